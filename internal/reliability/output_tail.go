package reliability

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// tail reads the lines a running pipeline appends to a file, each complete line once. A line
// the writer was killed in the middle of is handed over by finish.
type tail struct {
	path    string
	offset  int64
	partial []byte
	buf     []byte
}

func newTail(path string) *tail { return &tail{path: path, buf: make([]byte, 1<<20)} }

// poll hands every complete line appended since the last call to line.
func (t *tail) poll(line func([]byte)) error {
	f, err := os.Open(t.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // the pipeline has not written anything yet
	}
	if err != nil {
		return fmt.Errorf("opening output: %w", err)
	}
	defer f.Close()
	for {
		n, err := f.ReadAt(t.buf, t.offset)
		if n > 0 {
			t.offset += int64(n)
			t.split(t.buf[:n], line)
		}
		if errors.Is(err, io.EOF) || n == 0 {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading output: %w", err)
		}
	}
}

func (t *tail) split(chunk []byte, line func([]byte)) {
	for len(chunk) > 0 {
		i := bytes.IndexByte(chunk, '\n')
		if i < 0 {
			t.partial = append(t.partial, chunk...)
			return
		}
		if len(t.partial) > 0 {
			line(append(t.partial, chunk[:i]...))
			t.partial = t.partial[:0]
		} else {
			line(chunk[:i])
		}
		chunk = chunk[i+1:]
	}
}

// finish reads what is left once the writer has exited, including a last line without its
// newline (the file output writes a message and its newline in two calls).
func (t *tail) finish(line func([]byte)) error {
	if err := t.poll(line); err != nil {
		return err
	}
	if len(t.partial) > 0 {
		line(t.partial)
		t.partial = nil
	}
	return nil
}
