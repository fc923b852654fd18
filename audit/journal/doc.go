// Package journal is a small, fixed-size redo journal that lets qgate make
// audit events durable without paying for an SQLite commit per call.
//
// In durable mode the gateway writes each allowed call's audit event to
// the journal (one durable write per group of events: O_DIRECT|O_DSYNC of
// the pages it covers on Linux where the filesystem allows, else a write
// and an fdatasync) and
// forwards the call; the SQLite writer later commits the events in large
// batches and records, in the same transaction, the highest journal
// sequence number it has applied. After a crash, the entries above that
// mark are read back with Pending and replayed. Entries are opaque bytes
// to this package.
//
// # Why a fixed size
//
// The file is preallocated once by writing zeros, and records are written
// from offset 0 onwards; when the file is full the caller applies
// everything, calls Rewind and starts again at offset 0. Every write is
// then an overwrite of blocks that already exist: on ext4, fdatasync after
// such a write changes neither the file size nor its extents. On the
// machine this was built on it took a steady 59–69 µs (25–34 µs of CPU),
// against 69–165 µs (25–67 µs of CPU) after an append, which varies with
// when ext4 commits its own journal (BenchmarkSync).
//
// # Format
//
// The file is a sequence of records, little endian:
//
//	offset 0  magic    4 bytes  "QGJ1"
//	       4  nonce    8 bytes  random per run and per lap
//	      12  first    8 bytes  sequence number of the first entry (> 0)
//	      20  count    4 bytes  number of entries (> 0)
//	      24  length   4 bytes  payload length in bytes
//	      28  crc      4 bytes  CRC-32C of bytes [0,28) then the payload
//	      32  payload  length bytes: for each entry, uvarint(len) then bytes
//
// Open accepts the record at offset 0 if it is intact, then each record
// right after the previous one as long as it is intact, has the same nonce
// and continues the sequence numbers. Anything else ends the scan: a
// record torn by a crash, the zeros of a fresh file, or a record left over
// from an older lap. Because a lap only ever appends after its own
// records, and every lap has a new nonce and higher sequence numbers, the
// accepted chain is exactly what the last lap wrote and synced (plus, at
// most, a last record written but not yet acknowledged).
//
// The package needs flock(2) and works on Linux, macOS and the BSDs.
package journal
