package outbox

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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

// store is the bbolt file behind an Outbox with Dir. After Open only the committer (commit.go)
// calls it, so its writes are serialised (bbolt allows one writer).
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

// ErrDamaged is matched (errors.Is) by the error of Open for a state file that cannot be
// trusted: bbolt cannot read it, or its consistency check fails.
var ErrDamaged = errors.New("state file is damaged")

// damagedError is a state file Open refuses: which file, and what is wrong with it.
type damagedError struct {
	path   string
	reason string
}

func (e *damagedError) Error() string {
	return fmt.Sprintf("state file %s is damaged (%s): move it aside (mv %s %s.damaged) to start with an empty outbox, or put back a copy",
		e.path, e.reason, e.path, e.path)
}

func (e *damagedError) Is(target error) bool { return target == ErrDamaged }

// openStore opens (creating them if needed) dir and dir/outbox.db, and loads its content,
// dropping remembered ids beyond remember. A file bbolt cannot read (it panics on some damage),
// or whose consistency check fails, is refused with a *damagedError; an empty file, and a file
// with one of its two meta pages damaged, are warnings (see checkFile).
func openStore(dir string, remember int, log *slog.Logger) (*store, loaded, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, loaded{}, fmt.Errorf("create state dir: %w", err)
	}
	path := filepath.Join(dir, FileName)
	if err := checkFile(path, log); err != nil {
		return nil, loaded{}, err
	}
	var db *bolt.DB
	var file *os.File // bbolt's, so that it can be closed when bbolt panics while opening
	err := guard(path, func() (err error) {
		// Not NoFreelistSync: opening such a file rebuilds the freelist with a check whose
		// errors panic in a goroutine of bbolt's own, which no recover reaches (docs/DECISIONS.md).
		db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout,
			OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
				f, err := os.OpenFile(name, flag, perm)
				file = f
				return f, err
			}})
		return err
	})
	if errors.Is(err, ErrDamaged) && file != nil {
		_ = file.Close() // releases its lock too; its mapping stays until the process ends
	}
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, loaded{}, fmt.Errorf("state dir %s is %w", dir, ErrLocked)
	case errors.Is(err, ErrDamaged):
		return nil, loaded{}, err
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrChecksum), errors.Is(err, bolterrors.ErrVersionMismatch):
		return nil, loaded{}, &damagedError{path: path, reason: err.Error()}
	case err != nil:
		return nil, loaded{}, fmt.Errorf("open outbox file in state dir %s: %w", dir, err)
	}
	if err := guard(path, func() error { return consistent(db) }); err != nil {
		_ = db.Close()
		var d *damagedError
		if !errors.As(err, &d) {
			err = &damagedError{path: path, reason: err.Error()}
		}
		return nil, loaded{}, err
	}
	s := &store{db: db, remember: remember}
	var l loaded
	err = guard(path, func() error { return db.Update(func(tx *bolt.Tx) error { return s.load(tx, &l) }) })
	if err != nil {
		_ = db.Close()
		return nil, loaded{}, fmt.Errorf("load outbox from state dir %s: %w", dir, err)
	}
	return s, l, nil
}

// guard runs fn and turns a panic inside it (bbolt panics on some damaged pages) into a
// *damagedError naming path.
func guard(path string, fn func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &damagedError{path: path, reason: fmt.Sprint(v)}
		}
	}()
	return fn()
}

// consistent runs bbolt's consistency check over the whole file (it is small: the waiting
// messages and the remembered ids) and returns its first finding.
func consistent(db *bolt.DB) error {
	return db.View(func(tx *bolt.Tx) error {
		var first error
		for err := range tx.Check() {
			if first == nil {
				first = err
			}
		}
		return first
	})
}

// load reads the buckets into l, creating them in a new file.
func (s *store) load(tx *bolt.Tx, l *loaded) error {
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
		if len(k) != 8 {
			return fmt.Errorf("%w: a queued message has a key of %d bytes", ErrDamaged, len(k))
		}
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
	if extra := s.doneN - s.remember; extra > 0 {
		l.done = l.done[extra:]
	}
	return s.trim(d)
}

// commit writes a group of ops in one transaction (one fsync): each added message at the end of
// the queue (its op's seq is set to its key), each status change as the removal of its queued
// key and a remembered record, forgetting the oldest remembered beyond the bound.
func (s *store) commit(group []*op) error {
	n := s.doneN
	err := s.db.Update(func(tx *bolt.Tx) error {
		q, d := tx.Bucket(bucketQueue), tx.Bucket(bucketDone)
		for _, p := range group {
			if p.add != nil {
				seq, err := q.NextSequence()
				if err != nil {
					return err
				}
				p.seq = seq
				if err := q.Put(key(seq), p.v); err != nil {
					return err
				}
				continue
			}
			u := p.upd
			u.Message.Content = ""
			v, err := json.Marshal(u)
			if err != nil {
				return err
			}
			if err := q.Delete(key(p.seq)); err != nil {
				return err
			}
			dseq, err := d.NextSequence()
			if err != nil {
				return err
			}
			if err := d.Put(key(dseq), v); err != nil {
				return err
			}
			s.doneN++
		}
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
