// Command jetq-bench-asyncjobs measures choria-io/asyncjobs for jetq's benchmark (bench/sides/asyncjobs.ts):
// it enqueues and processes no-op tasks with asyncjobs' defaults on a given nats-server.
//
// Protocol with the harness: set-up happens first (connect, create the queue), then the program writes
// "ready" on stdout and waits for a line on stdin; it then runs the timed window, writes one JSON line
// {"ms":…,"cpuMs":…,"handled":…} (wall time and this process's CPU time of the window) and cleans up
// (deletes its queue, purges the task store) before it exits.
//
// Modes:
//
//	enqueue-sequential  N EnqueueTask calls, each returning before the next
//	enqueue-parallel    N EnqueueTask calls from -enqueuers goroutines (asyncjobs has no bulk call)
//	process             the worker runs first, then N tasks are enqueued as in enqueue-parallel;
//	                    the window ends when every handler ran and the work queue stream is empty
//	drain               N tasks are enqueued before the window; the window starts the worker
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	aj "github.com/choria-io/asyncjobs"
	"github.com/nats-io/nats.go"
)

const taskType = "bench:noop"

type result struct {
	Ms      float64 `json:"ms"`
	CPUMs   float64 `json:"cpuMs"`
	Handled int64   `json:"handled"`
}

func cpuMs() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec)*1000 + float64(t.Usec)/1000 }
	return tv(ru.Utime) + tv(ru.Stime)
}

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "jetq-bench-asyncjobs: "+format+"\n", a...)
	os.Exit(1)
}

// enqueue adds n tasks with payload {"i":k} from `workers` goroutines (1 = strictly one after another).
func enqueue(ctx context.Context, c *aj.Client, n, workers int) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				t, err := aj.NewTask(taskType, map[string]int64{"i": i})
				if err == nil {
					err = c.EnqueueTask(ctx, t)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// drained polls until the queue's work stream holds no message (every item acknowledged).
func drained(c *aj.Client, queue string, deadline time.Time) error {
	for time.Now().Before(deadline) {
		info, err := c.StorageAdmin().QueueInfo(queue)
		if err != nil {
			return err
		}
		if info.Stream.State.Msgs == 0 {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("queue %s not drained in time", queue)
}

func main() {
	url := flag.String("url", "", "NATS URL (required)")
	mode := flag.String("mode", "", "enqueue-sequential | enqueue-parallel | process | drain")
	jobs := flag.Int("jobs", 1000, "tasks per run")
	concurrency := flag.Int("concurrency", 10, "handler concurrency of the worker (ClientConcurrency)")
	enqueuers := flag.Int("enqueuers", 64, "goroutines calling EnqueueTask in the parallel phases")
	queue := flag.String("queue", "", "queue name, unique per run (required)")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up after this long")
	flag.Parse()
	if *url == "" || *queue == "" || *mode == "" {
		fail("-url, -queue and -mode are required")
	}

	nc, err := nats.Connect(*url, nats.Name("jetq-bench-asyncjobs"), nats.UseOldRequestStyle()) // asyncjobs requires it
	if err != nil {
		fail("connect: %v", err)
	}
	defer nc.Close()

	// asyncjobs' defaults, except the queue's in-flight cap, which is raised to the handler concurrency when
	// that is above the default of 100 (the jetq side does the same).
	q := &aj.Queue{Name: *queue, MaxConcurrent: max(aj.DefaultQueueMaxConcurrent, *concurrency)}
	client, err := aj.NewClient(aj.NatsConn(nc), aj.WorkQueue(q), aj.ClientConcurrency(*concurrency))
	if err != nil {
		fail("client: %v", err)
	}
	defer func() {
		_ = client.StorageAdmin().DeleteQueue(*queue)
		if _, tasks, err := client.StorageAdmin().TasksStore(); err == nil {
			_ = tasks.Purge()
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var handled atomic.Int64
	router := aj.NewTaskRouter()
	if err := router.HandleFunc(taskType, func(context.Context, aj.Logger, *aj.Task) (any, error) {
		handled.Add(1)
		return nil, nil
	}); err != nil {
		fail("router: %v", err)
	}
	runCtx, stopWorker := context.WithCancel(ctx)
	defer stopWorker()
	startWorker := func() { go func() { _ = client.Run(runCtx, router) }() }

	if *mode == "drain" {
		if err := enqueue(ctx, client, *jobs, *enqueuers); err != nil {
			fail("enqueue: %v", err)
		}
	}
	if *mode == "process" {
		startWorker()
	}

	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		fail("waiting for the start line: %v", err)
	}

	c0, t0 := cpuMs(), time.Now()
	switch *mode {
	case "enqueue-sequential":
		err = enqueue(ctx, client, *jobs, 1)
	case "enqueue-parallel":
		err = enqueue(ctx, client, *jobs, *enqueuers)
	case "process", "drain":
		if *mode == "drain" {
			startWorker()
		} else {
			err = enqueue(ctx, client, *jobs, *enqueuers)
		}
		for err == nil && handled.Load() < int64(*jobs) {
			if ctx.Err() != nil {
				err = fmt.Errorf("%d of %d tasks handled in time", handled.Load(), *jobs)
			}
			time.Sleep(2 * time.Millisecond)
		}
		if err == nil {
			err = drained(client, *queue, time.Now().Add(*timeout))
		}
	default:
		fail("unknown mode %q", *mode)
	}
	if err != nil {
		fail("%s: %v", *mode, err)
	}
	r := result{Ms: float64(time.Since(t0).Microseconds()) / 1000, CPUMs: cpuMs() - c0, Handled: handled.Load()}
	stopWorker()
	out, _ := json.Marshal(r)
	fmt.Println(string(out))
}
