// Command tcprelay is the floor of a Go proxy for scripts/bench/pg.sh: it
// accepts TCP connections and relays bytes to one upstream address, one
// goroutine per direction, without looking at them. With -messages it
// reads whole PostgreSQL protocol messages (type byte and length) from
// the client and writes each one upstream as soon as it is read, as a
// gateway that inspects every message must, instead of copying byte
// streams.
package main

import (
	"bufio"
	"encoding/binary"
	"flag"
	"io"
	"log"
	"net"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	upstream := flag.String("upstream", "", "address to relay to")
	messages := flag.Bool("messages", false, "relay client messages one at a time instead of copying bytes")
	flag.Parse()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go relay(c, *upstream, *messages)
	}
}

func relay(c net.Conn, upstream string, messages bool) {
	defer c.Close()
	u, err := net.Dial("tcp", upstream)
	if err != nil {
		log.Print(err)
		return
	}
	defer u.Close()
	go func() {
		io.Copy(c, u)
		c.Close()
	}()
	if !messages {
		io.Copy(u, c)
		return
	}
	// Startup-phase messages (SSLRequest, then the startup message) have
	// no type byte.
	r := bufio.NewReaderSize(c, 8192)
	var hdr [5]byte
	for {
		if _, err := io.ReadFull(r, hdr[:4]); err != nil {
			return
		}
		msg := make([]byte, binary.BigEndian.Uint32(hdr[:4]))
		copy(msg, hdr[:4])
		if _, err := io.ReadFull(r, msg[4:]); err != nil || write(u, msg) != nil {
			return
		}
		if len(msg) >= 8 && binary.BigEndian.Uint32(msg[4:8]) == 196608 { // protocol 3.0
			break
		}
	}
	var buf []byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint32(hdr[1:]))
		start := len(buf)
		buf = append(buf, hdr[:]...)
		buf = append(buf, make([]byte, n-4)...)
		if _, err := io.ReadFull(r, buf[start+5:]); err != nil {
			return
		}
		if r.Buffered() > 0 {
			continue // more of the client's pipeline is here: send it together
		}
		if write(u, buf) != nil {
			return
		}
		buf = buf[:0]
	}
}

func write(w io.Writer, b []byte) error {
	_, err := w.Write(b)
	return err
}
