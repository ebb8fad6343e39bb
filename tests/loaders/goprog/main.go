// goprog - Go's runtime under the loader: threads, the garbage collector,
// async preemption (SIGURG), timers and channels, with an exact number of
// getppid system calls that the hook must count.
//
//	goprog N
//
// Makes exactly N raw getppid calls (syscall.RawSyscall, Go's own `syscall`
// instruction) spread over several goroutines, hence several OS threads,
// each at a different depth of the goroutine's small, growing stack;
// Go's runtime itself never calls getppid (checked with strace -f -c in
// tests/loaders/run.sh), so a count hook must see exactly N.  Meanwhile:
//   - the garbage collector runs many times (debug.SetGCPercent(1), an
//     explicit runtime.GC() every few hundred allocations);
//   - more spinning goroutines than Ps run loops without function calls,
//     so only async preemption (sysmon's SIGURG) lets the goroutine that
//     stops them, and the GC's stop-the-world, run at all: without working
//     signals the program never ends (the test bounds it with timeout);
//   - channels, time.Sleep and a time.Timer.
//
// Prints one deterministic line, `goprog: getppid=N same=true gc=ok
// checksum=... messages=... timer=fired`, and exits 0; any inconsistency
// prints `goprog: FAIL ...` on stderr and exits 1.
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const workers = 8

var stop int32

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "goprog: FAIL "+format+"\n", args...)
	os.Exit(1)
}

// getppidCalls makes n raw getppid calls and returns the parent pid they
// agree on (or -1 if they do not) and a checksum of the frames they ran in.
// Each call is made at the bottom of a recursion of a different depth, so
// across the calls the stack pointer at the `syscall` instruction takes
// every position in the goroutine's small stack, down to just above its
// guard: whatever the hook path pushes below a goroutine's stack pointer
// must fit there (RawSyscall is nosplit), or it lands in the memory below
// the stack (another goroutine's stack, heap) and the checksums or the
// runtime notice.
func getppidCalls(n, worker int) (int64, uint64) {
	var first int64 = -2
	var sum uint64
	for i := 0; i < n; i++ {
		r, s := deep((i*7+worker)%300, uint64(i))
		sum = sum*1099511628211 + s
		if r == ^uintptr(0) {
			return -1, sum
		}
		if first == -2 {
			first = int64(r)
		} else if int64(r) != first {
			return -1, sum
		}
		if i%64 == 63 {
			runtime.Gosched() // let other goroutines (and threads) interleave
		}
	}
	return first, sum
}

// deep recurses d frames of about 130 bytes, makes one raw getppid at the
// bottom, and returns its result and a checksum of every frame's locals.
//
//go:noinline
func deep(d int, acc uint64) (uintptr, uint64) {
	var pad [12]uint64
	for i := range pad {
		pad[i] = acc + uint64(i*d+1)
	}
	if d == 0 {
		r, _, errno := syscall.RawSyscall(syscall.SYS_GETPPID, 0, 0, 0)
		if errno != 0 {
			return ^uintptr(0), pad[3]
		}
		return r, pad[5]
	}
	r, s := deep(d-1, acc^pad[d%12])
	return r, s*31 + pad[d%12] + pad[(d+5)%12]
}

// spin loops without calls until stop is set; only async preemption can
// take the P away from it.
func spin(seed uint64) uint64 {
	x := seed
	for atomic.LoadInt32(&stop) == 0 {
		for i := 0; i < 1000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	return x
}

// garbage allocates and collects; returns a checksum of what it kept.
func garbage(rounds int) uint64 {
	var kept [][]byte
	var sum uint64
	for i := 0; i < rounds; i++ {
		b := make([]byte, 1024+i%4096)
		for j := range b {
			b[j] = byte(i + j)
		}
		if i%16 == 0 {
			kept = append(kept, b)
		}
		if len(kept) > 64 {
			kept = kept[32:]
		}
		if i%300 == 0 {
			runtime.GC()
		}
	}
	for _, b := range kept {
		for _, c := range b {
			sum = sum*31 + uint64(c)
		}
	}
	return sum
}

func main() {
	if len(os.Args) != 2 {
		fail("usage: goprog N")
	}
	n, err := strconv.Atoi(os.Args[1])
	if err != nil || n < 0 {
		fail("bad count %q", os.Args[1])
	}
	if runtime.GOMAXPROCS(0) < 2 {
		runtime.GOMAXPROCS(2)
	}
	debug.SetGCPercent(1)
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	// Spinners: more than there are Ps, started first.
	procs := runtime.GOMAXPROCS(0)
	spinners := procs + 2
	var spinWG sync.WaitGroup
	for i := 0; i < spinners; i++ {
		spinWG.Add(1)
		go func(seed uint64) {
			defer spinWG.Done()
			_ = spin(seed)
		}(uint64(i) + 1)
	}

	// A timer stops the spinners after 100 ms; its goroutine needs a P.
	timer := time.NewTimer(100 * time.Millisecond)
	timerFired := make(chan string, 1)
	go func() {
		<-timer.C
		atomic.StoreInt32(&stop, 1)
		timerFired <- "fired"
	}()

	// getppid workers and garbage makers, results over a channel.
	type result struct {
		ppid int64
		sum  uint64
	}
	results := make(chan result, workers)
	per := n / workers
	for w := 0; w < workers; w++ {
		calls := per
		if w == workers-1 {
			calls = n - per*(workers-1)
		}
		go func(calls, w int) {
			p, frames := getppidCalls(calls, w)
			time.Sleep(time.Duration(w) * time.Millisecond)
			results <- result{p, frames ^ garbage(2000+100*w)}
		}(calls, w)
	}

	var ppid int64 = -2
	same := true
	var checksum uint64
	for w := 0; w < workers; w++ {
		r := <-results
		if ppid == -2 {
			ppid = r.ppid
		} else if r.ppid != ppid {
			same = false
		}
		if r.ppid == -1 {
			same = false
		}
		checksum ^= r.sum
	}
	fired := <-timerFired
	spinWG.Wait()

	// A pipeline of channels while the GC runs.
	const messages = 10000
	stage1 := make(chan int)
	stage2 := make(chan int, 16)
	go func() {
		for i := 0; i < messages; i++ {
			stage1 <- i
		}
		close(stage1)
	}()
	go func() {
		for v := range stage1 {
			stage2 <- v * 3
		}
		close(stage2)
	}()
	total := 0
	for v := range stage2 {
		total += v
		if v%3000 == 0 {
			runtime.GC()
		}
	}
	time.Sleep(5 * time.Millisecond)

	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	gcs := after.NumGC - before.NumGC
	gc := "ok"
	if gcs < 20 {
		gc = fmt.Sprintf("only-%d", gcs)
	}
	if !same {
		fail("getppid answers differ between goroutines")
	}
	fmt.Printf("goprog: getppid=%d same=%t gc=%s checksum=%x messages=%d total=%d timer=%s\n",
		n, same, gc, checksum, messages, total, fired)
}
