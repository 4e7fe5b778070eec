package outbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
)

// The layout of a bbolt file (go.etcd.io/bbolt/internal/common: page.go, meta.go, bucket.go),
// read here for two things bbolt does not do on a damaged file: say that it opened it at the
// older of its two meta pages, and refuse a page tree it would walk forever (bbolt's own
// consistency check recurses into a cycle of branch pages without end) or read past the end of
// the file (a fault the Go runtime cannot recover from). bbolt writes these structures in the
// machine's byte order.
const (
	boltPageHeader  = 16 // page id, flags, count, overflow
	boltElement     = 16 // a branch or leaf element
	boltMagic       = 0xED0CDAED
	boltVersion     = 2
	boltMetaSum     = 56 // the bytes of a meta before its checksum
	boltNoFreelist  = ^uint64(0)
	boltBranch      = 0x01
	boltLeaf        = 0x02
	boltFreelist    = 0x10
	boltBucketEntry = 0x01 // a leaf element that is a bucket
	boltMaxDepth    = 64
)

var ne = binary.NativeEndian

// boltMeta is what a meta page says.
type boltMeta struct {
	valid                     bool
	pageSize                  uint32
	root, freelist, hwm, txid uint64
}

func readMeta(data []byte, off int) boltMeta {
	if off+boltPageHeader+boltMetaSum+8 > len(data) {
		return boltMeta{}
	}
	m := data[off+boltPageHeader:]
	if ne.Uint32(m[0:]) != boltMagic || ne.Uint32(m[4:]) != boltVersion {
		return boltMeta{}
	}
	h := fnv.New64a()
	h.Write(m[:boltMetaSum])
	return boltMeta{valid: h.Sum64() == ne.Uint64(m[boltMetaSum:]), pageSize: ne.Uint32(m[8:]),
		root: ne.Uint64(m[16:]), freelist: ne.Uint64(m[32:]), hwm: ne.Uint64(m[40:]), txid: ne.Uint64(m[48:])}
}

// checkFile looks at the state file before bbolt opens it. A missing file is fine; an empty one
// is a warning (a fresh store is made). With one of the two meta pages damaged, bbolt opens the
// file as of the other, one commit older: after a bridge killed while committing (bbolt writes
// the meta page last) nothing acknowledged is lost, after damage to a good file the last
// message or status change may be; the warning says both. A page tree that bbolt could not
// walk safely is a *damagedError.
func checkFile(path string, log *slog.Logger) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the state file: %w", err)
	}
	if len(data) == 0 {
		log.Warn("the state file is empty (0 bytes): starting with an empty outbox", "file", path)
		return nil
	}
	m0 := readMeta(data, 0)
	size := int(m0.pageSize)
	if !m0.valid || size < 1024 {
		size = os.Getpagesize()
	}
	m1 := readMeta(data, size)
	m := m0
	switch {
	case m0.valid && m1.valid:
		if m1.txid > m0.txid {
			m = m1
		}
	case m1.valid:
		m = m1
		fallthrough
	case m0.valid:
		log.Warn("one of the state file's two meta pages is damaged: it opens as of the commit before; if the bridge was not killed while writing, the last message or status change it accepted may be missing",
			"file", path)
	default:
		return nil // bbolt says "invalid database"
	}
	if err := (&boltFile{data: data, pageSize: int(m.pageSize), hwm: m.hwm}).walk(m); err != nil {
		return &damagedError{path: path, reason: err.Error()}
	}
	return nil
}

// boltFile is a bbolt file's bytes, walked page by page with every bound checked.
type boltFile struct {
	data     []byte
	pageSize int
	hwm      uint64 // pages below it are in use or free
	seen     map[uint64]bool
}

// walk visits the freelist and the whole bucket tree once.
func (b *boltFile) walk(m boltMeta) error {
	if b.pageSize < 1024 || b.pageSize > 1<<20 {
		return fmt.Errorf("page size %d", b.pageSize)
	}
	b.seen = map[uint64]bool{}
	if m.freelist != boltNoFreelist {
		if err := b.walkFreelist(m.freelist); err != nil {
			return err
		}
	}
	return b.walkTree(m.root, 0)
}

// page returns the bytes of page id, its overflow pages included.
func (b *boltFile) page(id uint64) ([]byte, error) {
	if id < 2 || id >= b.hwm {
		return nil, fmt.Errorf("page %d is outside the pages in use (2 to %d)", id, b.hwm)
	}
	off := id * uint64(b.pageSize)
	if off+boltPageHeader > uint64(len(b.data)) {
		return nil, fmt.Errorf("page %d lies past the end of the file", id)
	}
	hdr := b.data[off:]
	if got := ne.Uint64(hdr); got != id {
		return nil, fmt.Errorf("page %d says it is page %d", id, got)
	}
	overflow := uint64(ne.Uint32(hdr[12:]))
	end := off + (overflow+1)*uint64(b.pageSize)
	if id+overflow >= b.hwm || end > uint64(len(b.data)) {
		return nil, fmt.Errorf("page %d runs past the end of the file", id)
	}
	if b.seen[id] {
		return nil, fmt.Errorf("page %d is used twice", id)
	}
	for i := range overflow + 1 {
		b.seen[id+i] = true
	}
	return b.data[off:end], nil
}

func (b *boltFile) walkFreelist(id uint64) error {
	p, err := b.page(id)
	if err != nil {
		return err
	}
	if ne.Uint16(p[8:])&boltFreelist == 0 {
		return fmt.Errorf("page %d is not the freelist", id)
	}
	first, count := uint64(0), uint64(ne.Uint16(p[10:]))
	if count == 0xFFFF { // the count is in the first element
		if len(p) < boltPageHeader+8 {
			return fmt.Errorf("freelist page %d is cut short", id)
		}
		first, count = 1, ne.Uint64(p[boltPageHeader:])
	}
	if count > uint64(len(p)) || boltPageHeader+(first+count)*8 > uint64(len(p)) {
		return fmt.Errorf("freelist page %d lists more ids than it holds", id)
	}
	for i := first; i < first+count; i++ {
		if free := ne.Uint64(p[boltPageHeader+i*8:]); free < 2 || free >= b.hwm {
			return fmt.Errorf("freelist page %d lists page %d, outside the file", id, free)
		}
	}
	return nil
}

// walkTree visits the tree of a bucket whose root page is id.
func (b *boltFile) walkTree(id uint64, depth int) error {
	if depth > boltMaxDepth {
		return errors.New("the page tree is deeper than any bbolt writes")
	}
	p, err := b.page(id)
	if err != nil {
		return err
	}
	return b.walkPage(p, id, depth)
}

// walkPage checks one branch or leaf page (or an inline bucket's page) and what it points to.
func (b *boltFile) walkPage(p []byte, id uint64, depth int) error {
	if len(p) < boltPageHeader {
		return fmt.Errorf("page %d is cut short", id)
	}
	flags, count := ne.Uint16(p[8:]), int(ne.Uint16(p[10:]))
	if boltPageHeader+count*boltElement > len(p) {
		return fmt.Errorf("page %d holds more elements than fit in it", id)
	}
	for i := range count {
		e := p[boltPageHeader+i*boltElement:]
		at := boltPageHeader + i*boltElement
		switch {
		case flags&boltBranch != 0:
			pos, ksize := int(ne.Uint32(e)), int(ne.Uint32(e[4:]))
			if at+pos+ksize > len(p) || pos < 0 || ksize < 0 {
				return fmt.Errorf("a key of page %d lies outside it", id)
			}
			if err := b.walkTree(ne.Uint64(e[8:]), depth+1); err != nil {
				return err
			}
		case flags&boltLeaf != 0:
			eflags, pos, ksize, vsize := ne.Uint32(e), int(ne.Uint32(e[4:])), int(ne.Uint32(e[8:])), int(ne.Uint32(e[12:]))
			start := at + pos + ksize
			if pos < 0 || ksize < 0 || vsize < 0 || start+vsize > len(p) || start < at {
				return fmt.Errorf("a key or value of page %d lies outside it", id)
			}
			if eflags&boltBucketEntry == 0 {
				continue
			}
			v := p[start : start+vsize]
			if len(v) < 16 {
				return fmt.Errorf("a bucket on page %d is cut short", id)
			}
			if root := ne.Uint64(v); root != 0 {
				if err := b.walkTree(root, depth+1); err != nil {
					return err
				}
			} else if err := b.walkPage(v[16:], id, depth+1); err != nil { // an inline bucket
				return err
			}
		default:
			return fmt.Errorf("page %d is neither a branch nor a leaf", id)
		}
	}
	return nil
}
