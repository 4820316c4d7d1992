package localcluster

import (
	"fmt"
	"os"
	"slices"
	"syscall"
	"time"
)

// StopComponent ends one running component with sig (SIGKILL to crash it,
// SIGTERM to stop it), waits up to timeout for it to exit, and forgets it:
// Failed no longer reports it and Stop no longer stops it. Start it again
// with its Start method (StartController for the controller). The e2e
// crash specs use it to kill the controller at arbitrary points.
func (c *Cluster) StopComponent(name string, sig syscall.Signal, timeout time.Duration) error {
	i := slices.IndexFunc(c.procs, func(p *process) bool { return p.name == name })
	if i < 0 {
		return fmt.Errorf("no component %q is running", name)
	}
	p := c.procs[i]
	if p.running() {
		if err := syscall.Kill(-p.pid(), sig); err != nil {
			return fmt.Errorf("signalling %s: %w", name, err)
		}
		select {
		case <-p.exited:
		case <-time.After(timeout):
			return fmt.Errorf("%s did not exit within %s of %s", name, timeout, sig)
		}
	}
	_ = os.Remove(p.pidPath)
	// Keep the log of the run that ended: the next start truncates the path.
	_ = os.Rename(p.logPath, fmt.Sprintf("%s.%s", p.logPath, time.Now().Format("150405.000")))
	c.procs = slices.Delete(c.procs, i, i+1)
	c.components = slices.DeleteFunc(c.components, func(comp Component) bool { return comp.Name == name })
	return nil
}
