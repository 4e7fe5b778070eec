package outbox

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// FileName is the name of the outbox file inside Config.Dir.
const FileName = "outbox.db"

// lockTimeout bounds how long Open waits for another bridge to release the
// file lock before it reports ErrLocked.
const lockTimeout = 200 * time.Millisecond

// The buckets of outbox.db. Keys are big-endian sequence numbers from the
// bucket's NextSequence, so a cursor walks them in the order they were added.
var (
	bucketQueue = []byte("queue") // seq -> Message (JSON): waiting, in Submit order
	bucketDone  = []byte("done")  // seq -> Update (JSON, no Content): remembered, oldest first
)

// store is the bbolt file behind an Outbox with Dir. Its methods are called
// with Outbox.wmu held, which serialises them (bbolt allows one writer).
type store struct {
	db       *bolt.DB
	remember int
	doneN    int // records in bucketDone
}

// stored is one waiting message read back from the file.
type stored struct {
	seq uint64
	msg Message
}

// loaded is what Open finds in the file.
type loaded struct {
	queue []stored
	done  []Update // oldest first
}

// openStore opens (creating them if needed) dir and dir/outbox.db, and loads
// its content, dropping remembered ids beyond remember.
func openStore(dir string, remember int) (*store, loaded, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, loaded{}, fmt.Errorf("create state dir: %w", err)
	}
	db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, &bolt.Options{Timeout: lockTimeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, loaded{}, fmt.Errorf("state dir %s is %w", dir, ErrLocked)
	}
	if err != nil {
		return nil, loaded{}, fmt.Errorf("open outbox file in state dir %s: %w", dir, err)
	}
	s := &store{db: db, remember: remember}
	var l loaded
	err = db.Update(func(tx *bolt.Tx) error {
		q, err := tx.CreateBucketIfNotExists(bucketQueue)
		if err != nil {
			return err
		}
		d, err := tx.CreateBucketIfNotExists(bucketDone)
		if err != nil {
			return err
		}
		err = q.ForEach(func(k, v []byte) error {
			var m Message
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("decode queued message %x: %w", k, err)
			}
			l.queue = append(l.queue, stored{seq: binary.BigEndian.Uint64(k), msg: m})
			return nil
		})
		if err != nil {
			return err
		}
		err = d.ForEach(func(k, v []byte) error {
			var u Update
			if err := json.Unmarshal(v, &u); err != nil {
				return fmt.Errorf("decode remembered message %x: %w", k, err)
			}
			l.done = append(l.done, u)
			return nil
		})
		if err != nil {
			return err
		}
		s.doneN = len(l.done)
		if extra := s.doneN - remember; extra > 0 {
			l.done = l.done[extra:]
		}
		return s.trim(d)
	})
	if err != nil {
		_ = db.Close()
		return nil, loaded{}, fmt.Errorf("load outbox from state dir %s: %w", dir, err)
	}
	return s, l, nil
}

// add commits m at the end of the queue and returns its key.
func (s *store) add(m Message) (uint64, error) {
	v, err := json.Marshal(m)
	if err != nil {
		return 0, err
	}
	var seq uint64
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketQueue)
		seq, err = b.NextSequence()
		if err != nil {
			return err
		}
		return b.Put(key(seq), v)
	})
	return seq, err
}

// finish removes the message with key seq from the queue and remembers u, in
// one transaction, forgetting the oldest remembered beyond the bound.
func (s *store) finish(seq uint64, u Update) error {
	u.Message.Content = ""
	v, err := json.Marshal(u)
	if err != nil {
		return err
	}
	n := s.doneN
	err = s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketQueue).Delete(key(seq)); err != nil {
			return err
		}
		d := tx.Bucket(bucketDone)
		dseq, err := d.NextSequence()
		if err != nil {
			return err
		}
		if err := d.Put(key(dseq), v); err != nil {
			return err
		}
		s.doneN++
		return s.trim(d)
	})
	if err != nil {
		s.doneN = n // the transaction was rolled back
	}
	return err
}

// trim deletes the oldest remembered records beyond the bound.
func (s *store) trim(d *bolt.Bucket) error {
	c := d.Cursor()
	for k, _ := c.First(); k != nil && s.doneN > s.remember; k, _ = c.First() {
		if err := d.Delete(k); err != nil {
			return err
		}
		s.doneN--
	}
	return nil
}

func (s *store) close() error { return s.db.Close() }

func key(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }
