package cattail

import (
	"math/rand"
	"testing"
	"time"
)

func TestBackoffGrowsToItsCapWithJitterBelowTheNominalDelayAndResets(t *testing.T) {
	b := backoff{opts: BackoffOptions{Initial: 100 * time.Millisecond, Max: time.Second, Multiplier: 2, Jitter: 0.5}, random: rand.New(rand.NewSource(1))}
	nominal := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, n := range nominal {
		d := b.next()
		if d > n*time.Millisecond || d < n*time.Millisecond/2 {
			t.Fatalf("attempt %d: %s, want in [%s, %s]", i+1, d, n*time.Millisecond/2, n*time.Millisecond)
		}
	}
	b.reset()
	if d := b.next(); d > 100*time.Millisecond {
		t.Fatalf("after reset %s", d)
	}
}
