package cattail

import (
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// compressionZstd is the one compression protocol v1 defines (PROTOCOL.md §7.1).
const compressionZstd = "zstd"

// closeMessageTooBig is what a compressed frame over MaxFrameBytes is closed with, as an
// over-long plain frame would be (RFC 6455's 1009).
const closeMessageTooBig = 1009

// closeNotOffered is what a serverHello choosing a compression the client did not offer is
// closed with.
const closeNotOffered = 4000

// closeBadFrame is the close code for a compressed frame that is not one whole zstd frame of
// one message, or one on a connection that did not negotiate compression.
const closeBadFrame = 4001

// isCompressedFrame reports whether a server frame starts with the zstd magic number
// 28 b5 2f fd; no MessagePack message starts with 0x28.
func isCompressedFrame(frame []byte) bool {
	return len(frame) >= 4 && frame[0] == 0x28 && frame[1] == 0xb5 && frame[2] == 0x2f && frame[3] == 0xfd
}

// frameError is a compressed frame the client refuses, with the close code it gets.
type frameError struct {
	closeCode int
	reason    string
}

func (e *frameError) Error() string { return e.reason }

func badFrame(format string, args ...interface{}) *frameError {
	return &frameError{closeCode: closeBadFrame, reason: "compressed frame: " + fmt.Sprintf(format, args...)}
}

// frameDecompressor decodes the compressed frames of one connection, each on its own, within
// maxBytes (the client's MaxFrameBytes): the decoder's window and memory are capped to it.
type frameDecompressor struct {
	maxBytes uint64
	decoder  *zstd.Decoder
}

func newFrameDecompressor(maxBytes int64) (*frameDecompressor, error) {
	limit := uint64(maxBytes)
	if limit < 1 {
		limit = 1
	}
	// The decoder refuses a frame whose window or content size is over its memory bound. The
	// exact limit is the declared content size, checked before decoding; zstd's smallest window
	// is 1 KiB, so under a limit that small the decoder's bound is 1 KiB.
	memory := limit
	if memory < zstd.MinWindowSize {
		memory = zstd.MinWindowSize
	}
	d, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderMaxMemory(memory),
		zstd.WithDecoderMaxWindow(windowFor(limit)),
	)
	if err != nil {
		return nil, err
	}
	return &frameDecompressor{maxBytes: limit, decoder: d}, nil
}

// windowFor is 2^log for the smallest log (zstd's range is 10 to 31) with 2^log >= bytes.
func windowFor(bytes uint64) uint64 {
	w := uint64(1) << 10
	for w < bytes && w < 1<<31 {
		w <<= 1
	}
	return w
}

func (f *frameDecompressor) close() { f.decoder.Close() }

// decompress returns the plain message inside one compressed frame, or a *frameError: 1009
// when it declares more than maxBytes, 4001 when it omits its content size,
// names a dictionary, is truncated, does not decode, decodes to another size than declared,
// or has bytes after its one zstd frame.
func (f *frameDecompressor) decompress(frame []byte) ([]byte, *frameError) {
	h, ferr := readZstdHeader(frame)
	if ferr != nil {
		return nil, ferr
	}
	if !h.hasContentSize {
		return nil, badFrame("the zstd frame header must declare its content size")
	}
	if h.contentSize > f.maxBytes {
		return nil, &frameError{closeCode: closeMessageTooBig, reason: fmt.Sprintf("compressed frame declares %d bytes, over the %d-byte frame limit", h.contentSize, f.maxBytes)}
	}
	n, ok := zstdFrameLength(frame, h)
	if !ok {
		return nil, badFrame("truncated zstd frame")
	}
	if n < len(frame) {
		return nil, badFrame("bytes after the end of its zstd frame (one zstd frame per message)")
	}
	// The decoder stops at the declared size (ErrFrameSizeExceeded), which is within the limit,
	// so the output never grows past it.
	plain, err := f.decoder.DecodeAll(frame, make([]byte, 0, h.contentSize))
	if err != nil {
		return nil, badFrame("%v", err)
	}
	if uint64(len(plain)) != h.contentSize {
		return nil, badFrame("decoded %d bytes, its header declares %d", len(plain), h.contentSize)
	}
	return plain, nil
}

type zstdHeader struct {
	hasContentSize bool
	contentSize    uint64
	// length is the number of bytes from the start of the frame to its first block.
	length   int
	checksum bool
}

// readZstdHeader reads a zstd frame header (RFC 8878 §3.1.1.1).
func readZstdHeader(frame []byte) (zstdHeader, *frameError) {
	var h zstdHeader
	if !isCompressedFrame(frame) || len(frame) < 6 {
		return h, badFrame("truncated zstd frame header")
	}
	descriptor := frame[4]
	fcsFlag := int(descriptor >> 6)
	singleSegment := (descriptor>>5)&1 == 1
	dictFlag := int(descriptor & 3)
	if (descriptor>>3)&1 == 1 {
		return h, badFrame("reserved bit set in the zstd frame header")
	}
	dictStart := 5
	if !singleSegment {
		dictStart++ // the window descriptor
	}
	fcsStart := dictStart + []int{0, 1, 2, 4}[dictFlag]
	fcsBytes := []int{0, 2, 4, 8}[fcsFlag]
	if fcsFlag == 0 && singleSegment {
		fcsBytes = 1
	}
	h.length = fcsStart + fcsBytes
	if len(frame) < h.length {
		return h, badFrame("truncated zstd frame header")
	}
	for _, b := range frame[dictStart:fcsStart] {
		if b != 0 {
			return h, badFrame("a zstd dictionary is not part of the protocol")
		}
	}
	if fcsBytes > 0 {
		h.hasContentSize = true
		for i := fcsBytes - 1; i >= 0; i-- {
			h.contentSize = h.contentSize<<8 | uint64(frame[fcsStart+i])
		}
		if fcsBytes == 2 {
			h.contentSize += 256
		}
	}
	h.checksum = (descriptor>>2)&1 == 1
	return h, nil
}

// zstdFrameLength walks the block headers (3 bytes each: last-block bit, type, size) of the
// zstd frame at the start of frame; ok is false when they run past its end. The decoder would
// go on to decode a second frame, so one frame per message is checked here.
func zstdFrameLength(frame []byte, h zstdHeader) (n int, ok bool) {
	off := h.length
	for {
		if off+3 > len(frame) {
			return 0, false
		}
		bh := int(frame[off]) | int(frame[off+1])<<8 | int(frame[off+2])<<16
		size := bh >> 3
		if (bh>>1)&3 == 1 { // an RLE block holds one byte
			size = 1
		}
		off += 3 + size
		if bh&1 == 1 {
			break
		}
	}
	if h.checksum {
		off += 4
	}
	return off, off <= len(frame)
}
