//go:build linux

// The testbed builds gVisor's containerd shim with this file in place of containerd's pkg/sys/oom_linux.go (a Go
// build overlay, labs/testbed/build.py), written for the testbed, not copied. The shim lowers its own
// oom_score_adj to -999 and gives up when that is refused; lowering it needs CAP_SYS_RESOURCE, which this machine
// withholds even from root (its bounding set), so every gVisor pod failed with "failed to set OOM Score on shim:
// write /proc/PID/oom_score_adj: permission denied". Here a refused write is ignored, as containerd ignores it for
// processes that are not root or live in a user namespace. Where the capability exists nothing is refused, so the
// shim behaves as upstream's.

package sys

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// The range of /proc/PID/oom_score_adj (OOM_SCORE_ADJ_MIN and OOM_SCORE_ADJ_MAX in linux/oom.h).
const (
	OOMScoreAdjMin = -1000
	OOMScoreAdjMax = 1000
)

// AdjustOOMScore sets pid's score, clipped to the range.
func AdjustOOMScore(pid, score int) error {
	return SetOOMScore(pid, min(max(score, OOMScoreAdjMin), OOMScoreAdjMax))
}

// SetOOMScore sets pid's score; a score out of range is an error, a write the kernel refuses is not.
func SetOOMScore(pid, score int) error {
	if score < OOMScoreAdjMin || score > OOMScoreAdjMax {
		return fmt.Errorf("value out of range (%d): OOM score must be between %d and %d", score, OOMScoreAdjMin, OOMScoreAdjMax)
	}
	f, err := os.OpenFile(fmt.Sprintf("/proc/%d/oom_score_adj", pid), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err = f.WriteString(strconv.Itoa(score)); errors.Is(err, os.ErrPermission) {
		return nil
	}
	return err
}

// GetOOMScoreAdj reads pid's score.
func GetOOMScoreAdj(pid int) (int, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/oom_score_adj", pid))
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(data)))
}
