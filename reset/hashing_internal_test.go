package reset

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestHashGateForgetsClients: after many clients come and go, some of them
// timed out or cancelled while waiting, the gate holds no slot and
// remembers no client: nothing grows with the clients it has seen.
func TestHashGateForgetsClients(t *testing.T) {
	g := newHashGate(2, 5*time.Millisecond)
	var wg sync.WaitGroup
	var mu sync.Mutex
	outcomes := map[string]int{}
	for i := range 200 {
		wg.Go(func() {
			ctx, cancel := context.WithCancel(context.Background())
			if i%7 == 0 {
				cancel()
			}
			defer cancel()
			release, err := g.acquire(ctx, fmt.Sprintf("client-%d", i%13))
			var outcome string
			switch {
			case err == nil:
				time.Sleep(time.Millisecond)
				release()
				outcome = "ran"
			case errors.Is(err, ErrBusy):
				outcome = "busy"
			case errors.Is(err, context.Canceled):
				outcome = "cancelled"
			default:
				t.Errorf("acquire: %v", err)
			}
			mu.Lock()
			outcomes[outcome]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if outcomes["ran"] == 0 || outcomes["busy"] == 0 {
		t.Fatalf("want some calls run and some busy, got %v", outcomes)
	}
	if n := len(g.slots); n != 0 {
		t.Errorf("%d slots still held", n)
	}
	if n := len(g.clients); n != 0 {
		t.Errorf("%d clients still remembered", n)
	}
}

// TestFlightsForgetResets: a turn ends once, and leaves nothing behind.
func TestFlightsForgetResets(t *testing.T) {
	var f flights
	end, wait, full := f.begin("r1")
	if end == nil || wait != nil || full {
		t.Fatal("the first caller did not get the turn")
	}
	_, wait, _ = f.begin("r1")
	if wait == nil {
		t.Fatal("a second caller got the turn while the first had it")
	}
	end()
	end() // twice is harmless
	select {
	case <-wait:
	default:
		t.Fatal("the waiter was not woken")
	}
	if len(f.m) != 0 {
		t.Fatalf("%d resets remembered", len(f.m))
	}
}
