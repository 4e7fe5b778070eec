package outbox

import (
	"encoding/binary"
	"errors"
	"hash/fnv"
	"io"
	"log/slog"
	"os"
)

// The layout of a bbolt file's meta pages (go.etcd.io/bbolt/internal/common: page.go, meta.go),
// read here because bbolt opens a file with one damaged meta page silently at the other, older
// one, which may lack the last committed change.
const (
	boltPageHeader = 16         // page id, flags, count, overflow
	boltMagic      = 0xED0CDAED // Meta.magic
	boltVersion    = 2          // Meta.version
	boltMetaSum    = 56         // the bytes of Meta before its checksum
)

// checkFile looks at the state file before bbolt opens it and says in the log what it finds
// that bbolt would not: an empty file (a fresh store is made), or one of the two meta pages
// damaged (bbolt opens the file as of the other one, which is one commit older: a torn write of
// the last commit, after which nothing was acknowledged, or damage since, after which the last
// message or status change may be missing). A missing file is fine; a file that cannot be read
// is an error.
func checkFile(path string, log *slog.Logger) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if info.Size() == 0 {
		log.Warn("the state file is empty (0 bytes): starting with an empty outbox", "file", path)
		return nil
	}
	ok0, size := readMeta(f, 0)
	if size == 0 {
		size = uint32(os.Getpagesize())
	}
	ok1, _ := readMeta(f, int64(size))
	if ok0 != ok1 {
		log.Warn("one of the state file's two meta pages is damaged: it opens as of the commit before; if the bridge was not killed while writing, the last message or status change it accepted may be missing",
			"file", path)
	}
	return nil
}

// readMeta reads the meta page at off: whether it is valid, and the page size it states.
func readMeta(r io.ReaderAt, off int64) (valid bool, pageSize uint32) {
	buf := make([]byte, boltPageHeader+boltMetaSum+8)
	if _, err := r.ReadAt(buf, off); err != nil {
		return false, 0
	}
	m := buf[boltPageHeader:]
	le := binary.NativeEndian // bbolt writes its meta pages in the machine's byte order
	if le.Uint32(m[0:]) != boltMagic || le.Uint32(m[4:]) != boltVersion {
		return false, 0
	}
	h := fnv.New64a()
	h.Write(m[:boltMetaSum])
	return h.Sum64() == le.Uint64(m[boltMetaSum:]), le.Uint32(m[8:])
}
