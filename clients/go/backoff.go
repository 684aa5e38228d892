package cattail

import (
	"fmt"
	"math/rand"
	"time"
)

// BackoffOptions shapes the delay between failed connection attempts: the n-th consecutive
// failure waits Initial × Multiplier^(n-1), capped at Max, then shortened by a random share of
// up to Jitter of itself, so that clients cut off together do not come back together.
type BackoffOptions struct {
	Initial    time.Duration // default 100 ms
	Max        time.Duration // default 30 s
	Multiplier float64       // default 2
	Jitter     float64       // 0..1, default 0.5
}

func (b BackoffOptions) resolve() (BackoffOptions, error) {
	if b.Initial == 0 {
		b.Initial = 100 * time.Millisecond
	}
	if b.Max == 0 {
		b.Max = 30 * time.Second
	}
	if b.Multiplier == 0 {
		b.Multiplier = 2
	}
	if b.Jitter == 0 {
		b.Jitter = 0.5
	}
	if b.Initial < 0 || b.Max < b.Initial || b.Multiplier < 1 || b.Jitter < 0 || b.Jitter > 1 {
		return b, fmt.Errorf("Backoff needs 0 < Initial <= Max, Multiplier >= 1 and Jitter in [0, 1]")
	}
	return b, nil
}

type backoff struct {
	opts     BackoffOptions
	random   *rand.Rand
	failures int
}

// next returns the delay before the next attempt and counts a failure.
func (b *backoff) next() time.Duration {
	d := float64(b.opts.Initial)
	for i := 0; i < b.failures && d < float64(b.opts.Max); i++ {
		d *= b.opts.Multiplier
	}
	if d > float64(b.opts.Max) {
		d = float64(b.opts.Max)
	}
	b.failures++
	return time.Duration(d * (1 - b.opts.Jitter*b.random.Float64()))
}

// reset starts the growth over, after a connection that streamed.
func (b *backoff) reset() { b.failures = 0 }
