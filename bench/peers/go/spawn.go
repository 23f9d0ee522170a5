// Spawning: units of a workload started by one spawner goroutine per
// GOMAXPROCS, either as fast as they can (prove) or paced along a linear ramp
// (serve --ramp), checked every 5 ms as corostorm's control tick does.
package main

import (
	"math/rand"
	"time"
)

const rampTick = 5 * time.Millisecond

// rampTarget is how many of `total` are due `elapsed` into a ramp of `ramp`.
func rampTarget(total uint64, elapsed, ramp time.Duration) uint64 {
	if ramp <= 0 || elapsed >= ramp {
		return total
	}
	if elapsed <= 0 {
		return 0
	}
	return uint64(float64(total) * float64(elapsed) / float64(ramp))
}

// startSpawners starts `units` units of w over `spawners` goroutines from now.
// Spawner i counts its spawns in shard i and gives its n-th unit the shard
// i + n*spawners, so that units spread over every shard. Spawners stop early
// once `retiring` is set.
func startSpawners(rec *recorder, w workload, units uint64, spawners int, ramp time.Duration) {
	start := time.Now()
	for i := 0; i < spawners; i++ {
		share := units / uint64(spawners)
		if uint64(i) < units%uint64(spawners) {
			share++
		}
		go spawner(rec, w, i, spawners, share, start, ramp)
	}
}

func spawner(rec *recorder, w workload, i, spawners int, share uint64, start time.Time, ramp time.Duration) {
	self := env{rec, uint32(i)}.shard()
	rnd := rand.New(rand.NewSource(int64(i) + 1)) // one generator per spawner: no shared lock
	slot := uint32(i)
	for done := uint64(0); done < share; {
		due := rampTarget(share, time.Since(start), ramp)
		for ; done < due; done++ {
			if retiring.Load() {
				return
			}
			w.spawnUnit(self, env{rec, slot}, rnd)
			slot += uint32(spawners)
		}
		if done < share {
			time.Sleep(rampTick)
		}
	}
}
