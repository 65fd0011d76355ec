// netem-queue: tc netem's delay and loss for a kernel built without it (CONFIG_NET_SCH_NETEM
// not set). iptables rules send a network namespace's packets to an NFQUEUE (with
// --queue-bypass, so they flow on when no program holds the queue); this program, run in that
// namespace, holds the queue, gives each packet its ACCEPT verdict after the delay (uniformly
// spread by the jitter, as netem does without a distribution table) and DROPs the configured
// share at random. Only packet metadata is copied from the kernel. It speaks nfnetlink_queue
// through the syscall package alone: no module beyond the standard library.
//
// Usage: netem-queue -queue N [-delay 100ms] [-jitter 10ms] [-loss 5]
// It prints "bound queue N" once the queue is held; SIGTERM or SIGINT ends it (the kernel drops
// the packets still held, then bypass lets the rest through).
package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	netlinkNetfilter = 12 // NETLINK_NETFILTER
	solNetlink       = 270
	netlinkNoENOBUFS = 5

	subsysQueue   = 3 // NFNL_SUBSYS_QUEUE
	msgPacket     = subsysQueue<<8 | 0
	msgVerdict    = subsysQueue<<8 | 1
	msgConfig     = subsysQueue<<8 | 2
	cfgCmd        = 1 // NFQA_CFG_CMD
	cfgParams     = 2 // NFQA_CFG_PARAMS
	cfgQueueMax   = 3 // NFQA_CFG_QUEUE_MAXLEN
	cmdBind       = 1 // NFQNL_CFG_CMD_BIND
	copyMeta      = 1 // NFQNL_COPY_META
	attrPacketHdr = 1 // NFQA_PACKET_HDR
	attrVerdict   = 2 // NFQA_VERDICT_HDR
	verdictDrop   = 0 // NF_DROP
	verdictAccept = 1 // NF_ACCEPT
)

type queue struct {
	fd  int
	num uint16
	seq atomic.Uint32
}

func align4(n int) int { return (n + 3) &^ 3 }

// message builds a netlink message of the queue subsystem: header, nfgenmsg, attributes.
func (q *queue) message(kind uint16, flags uint16, attrs ...[]byte) []byte {
	body := []byte{syscall.AF_UNSPEC, 0, byte(q.num >> 8), byte(q.num)} // nfgenmsg, res_id big-endian
	for _, a := range attrs {
		body = append(body, a...)
	}
	msg := make([]byte, 16, 16+len(body))
	binary.NativeEndian.PutUint32(msg[0:], uint32(16+len(body)))
	binary.NativeEndian.PutUint16(msg[4:], kind)
	binary.NativeEndian.PutUint16(msg[6:], flags)
	binary.NativeEndian.PutUint32(msg[8:], q.seq.Add(1))
	return append(msg, body...)
}

func attr(kind uint16, payload []byte) []byte {
	a := make([]byte, 4, align4(4+len(payload)))
	binary.NativeEndian.PutUint16(a[0:], uint16(4+len(payload)))
	binary.NativeEndian.PutUint16(a[2:], kind)
	a = append(a, payload...)
	return append(a, make([]byte, cap(a)-len(a))...)
}

func (q *queue) send(msg []byte) error {
	return syscall.Sendto(q.fd, msg, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK})
}

// configure sends a config message and waits for the kernel's acknowledgement.
func (q *queue) configure(attrs ...[]byte) error {
	if err := q.send(q.message(msgConfig, syscall.NLM_F_REQUEST|syscall.NLM_F_ACK, attrs...)); err != nil {
		return err
	}
	buf := make([]byte, 8192)
	for {
		n, _, err := syscall.Recvfrom(q.fd, buf, 0)
		if err != nil {
			return err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if m.Header.Type == syscall.NLMSG_ERROR && len(m.Data) >= 4 {
				if code := int32(binary.NativeEndian.Uint32(m.Data)); code != 0 {
					return syscall.Errno(-code)
				}
				return nil
			}
		}
	}
}

func (q *queue) verdict(id uint32, verdict uint32) {
	hdr := make([]byte, 8)
	binary.BigEndian.PutUint32(hdr[0:], verdict)
	binary.BigEndian.PutUint32(hdr[4:], id)
	if err := q.send(q.message(msgVerdict, syscall.NLM_F_REQUEST, attr(attrVerdict, hdr))); err != nil {
		fmt.Fprintf(os.Stderr, "netem-queue: verdict for packet %d: %v\n", id, err)
	}
}

// packetID reads NFQA_PACKET_HDR's packet id out of a packet message's attributes.
func packetID(data []byte) (uint32, bool) {
	for rest := data[4:]; len(rest) >= 4; {
		n := int(binary.NativeEndian.Uint16(rest[0:]))
		if n < 4 || n > len(rest) {
			return 0, false
		}
		if binary.NativeEndian.Uint16(rest[2:])&0x3fff == attrPacketHdr && n >= 8 {
			return binary.BigEndian.Uint32(rest[4:]), true
		}
		rest = rest[min(align4(n), len(rest)):]
	}
	return 0, false
}

func main() {
	num := flag.Uint("queue", 0, "NFQUEUE number (1-65535)")
	delay := flag.Duration("delay", 0, "added delay per packet")
	jitter := flag.Duration("jitter", 0, "delay spread: uniform in [delay-jitter, delay+jitter)")
	loss := flag.Float64("loss", 0, "share of packets dropped, in percent")
	flag.Parse()
	if *num < 1 || *num > 65535 || *delay < 0 || *jitter < 0 || *jitter > *delay || *loss < 0 || *loss > 100 ||
		flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "netem-queue: usage: -queue 1-65535 [-delay D] [-jitter J<=D] [-loss 0-100]")
		os.Exit(2)
	}
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, netlinkNetfilter)
	if err == nil {
		err = syscall.Bind(fd, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK})
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "netem-queue: netlink socket: %v\n", err)
		os.Exit(1)
	}
	// Packets wait here for their delay: a deep socket buffer, and no ENOBUFS on overflow.
	_ = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, 16<<20)
	_ = syscall.SetsockoptInt(fd, solNetlink, netlinkNoENOBUFS, 1)
	q := &queue{fd: fd, num: uint16(*num)}
	params := make([]byte, 5)
	params[4] = copyMeta
	maxlen := binary.BigEndian.AppendUint32(nil, 100000)
	for _, step := range [][]byte{attr(cfgCmd, []byte{cmdBind, 0, 0, 0}), attr(cfgParams, params), attr(cfgQueueMax, maxlen)} {
		if err := q.configure(step); err != nil {
			fmt.Fprintf(os.Stderr, "netem-queue: binding queue %d: %v\n", *num, err)
			os.Exit(1)
		}
	}
	fmt.Printf("bound queue %d: delay %v jitter %v loss %g%%\n", *num, *delay, *jitter, *loss)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-stop; os.Exit(0) }()

	buf := make([]byte, 1<<16)
	for {
		n, _, err := syscall.Recvfrom(fd, buf, 0)
		if errors.Is(err, syscall.EINTR) || errors.Is(err, syscall.ENOBUFS) {
			continue
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "netem-queue: receiving: %v\n", err)
			os.Exit(1)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			continue
		}
		for _, m := range msgs {
			if m.Header.Type != msgPacket || len(m.Data) < 4 {
				continue
			}
			id, ok := packetID(m.Data)
			if !ok {
				continue
			}
			if *loss > 0 && rand.Float64()*100 < *loss {
				q.verdict(id, verdictDrop)
				continue
			}
			wait := *delay
			if *jitter > 0 {
				wait += time.Duration(rand.Int64N(int64(2**jitter))) - *jitter
			}
			if wait <= 0 {
				q.verdict(id, verdictAccept)
				continue
			}
			time.AfterFunc(wait, func() { q.verdict(id, verdictAccept) })
		}
	}
}
