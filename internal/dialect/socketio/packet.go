package socketio

import (
	"bytes"
	"errors"
	"strconv"
)

// Engine.IO v4 packet types: the first byte of every WebSocket text frame.
const (
	engineOpen    = '0'
	engineClose   = '1'
	enginePing    = '2'
	enginePong    = '3'
	engineMessage = '4'
	engineUpgrade = '5'
	engineNoop    = '6'
)

// Socket.IO v5 packet types: the byte after an Engine.IO message ('4').
const (
	socketConnect      = '0'
	socketDisconnect   = '1'
	socketEvent        = '2'
	socketAck          = '3'
	socketConnectError = '4'
	socketBinaryEvent  = '5'
	socketBinaryAck    = '6'
)

// packet is one Socket.IO packet: <type>[<attachments>-][<namespace>,][<ack id>][<JSON data>].
type packet struct {
	typ         byte
	attachments int
	nsp         string // "/" when the packet names none
	id          int64  // -1 when it carries no ack id
	data        []byte // JSON, or empty
}

var errPacket = errors.New("not a Socket.IO packet")

// parsePacket reads the Socket.IO packet that follows an Engine.IO '4'.
func parsePacket(b []byte) (packet, error) {
	p := packet{nsp: "/", id: -1}
	if len(b) == 0 || b[0] < socketConnect || b[0] > socketBinaryAck {
		return p, errPacket
	}
	p.typ, b = b[0], b[1:]
	if p.typ == socketBinaryEvent || p.typ == socketBinaryAck {
		i := bytes.IndexByte(b, '-')
		if i <= 0 {
			return p, errPacket
		}
		n, err := strconv.Atoi(string(b[:i]))
		if err != nil || n < 0 {
			return p, errPacket
		}
		p.attachments, b = n, b[i+1:]
	}
	if len(b) > 0 && b[0] == '/' {
		i := bytes.IndexByte(b, ',')
		if i < 0 { // a namespace alone, as in "40/chat"
			p.nsp, b = string(b), nil
		} else {
			p.nsp, b = string(b[:i]), b[i+1:]
		}
	}
	n := 0
	for n < len(b) && b[n] >= '0' && b[n] <= '9' {
		n++
	}
	if n > 0 {
		id, err := strconv.ParseInt(string(b[:n]), 10, 64)
		if err != nil {
			return p, errPacket
		}
		p.id, b = id, b[n:]
	}
	p.data = b
	return p, nil
}

// appendPacket writes a Socket.IO packet inside an Engine.IO message: "4" + type + namespace
// (when not "/") + ack id (when >= 0) + data.
func appendPacket(dst []byte, typ byte, nsp string, id int64, data []byte) []byte {
	dst = append(dst, engineMessage, typ)
	if nsp != "" && nsp != "/" {
		dst = append(dst, nsp...)
		dst = append(dst, ',')
	}
	if id >= 0 {
		dst = strconv.AppendInt(dst, id, 10)
	}
	return append(dst, data...)
}
