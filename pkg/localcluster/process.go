package localcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is one supervised component. Each runs in its own process group
// with a parent-death signal, so neither Ctrl-C nor a killed parent leaves it
// behind, and its output goes to a log file in the state directory.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	pidPath string
	exited  chan struct{}
	err     error
}

func startProcess(name, binary string, args []string, stateDir string, env ...string) (*process, error) {
	logDir := filepath.Join(stateDir, "logs")
	pidDir := filepath.Join(stateDir, "pids")
	for _, d := range []string{logDir, pidDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	logPath := filepath.Join(logDir, name+".log")
	// Appended: a restarted component keeps its earlier lines (a new cluster
	// starts from an empty state directory).
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	// The process outlives the call that starts it; Stop ends it.
	cmd := exec.Command(binary, args...) //nolint:noctx // see above
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &process{
		name:    name,
		cmd:     cmd,
		logPath: logPath,
		pidPath: filepath.Join(pidDir, name),
		exited:  make(chan struct{}),
	}
	if err := os.WriteFile(p.pidPath, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"+binary+"\n"), 0o644); err != nil {
		return nil, err
	}
	go func() {
		p.err = cmd.Wait()
		_ = logFile.Close()
		close(p.exited)
	}()
	return p, nil
}

func (p *process) pid() int { return p.cmd.Process.Pid }

// running reports whether the process has not exited.
func (p *process) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// exitError describes how the process ended, with the tail of its log.
func (p *process) exitError() error {
	if p.err == nil {
		return fmt.Errorf("%s exited with status 0 while it should keep running; last lines of %s:\n%s", p.name, p.logPath, indent(Tail(p.logPath, 15)))
	}
	return fmt.Errorf("%s exited (%w); last lines of %s:\n%s", p.name, p.err, p.logPath, indent(Tail(p.logPath, 15)))
}

// stop sends SIGTERM to the process group, then SIGKILL after grace.
func (p *process) stop(grace time.Duration) {
	defer func() { _ = os.Remove(p.pidPath) }()
	if !p.running() {
		return
	}
	_ = syscall.Kill(-p.pid(), syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
		_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
		<-p.exited
	}
}

// KillLeftovers stops the processes recorded in stateDir/pids by an earlier
// run that could not clean up (its terminal was closed, it was SIGKILLed).
// A pid is only signalled while it still runs the recorded binary, so a
// recycled pid is left alone. It returns the names of the components stopped.
func KillLeftovers(stateDir string) ([]string, error) {
	pidDir := filepath.Join(stateDir, "pids")
	entries, err := os.ReadDir(pidDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var stopped []string
	for _, e := range entries {
		path := filepath.Join(pidDir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		lines := strings.SplitN(strings.TrimSpace(string(data)), "\n", 2)
		pid, err := strconv.Atoi(lines[0])
		if err != nil || len(lines) < 2 {
			_ = os.Remove(path)
			continue
		}
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && exe == lines[1] {
			_ = syscall.Kill(-pid, syscall.SIGTERM)
			deadline := time.Now().Add(10 * time.Second)
			for time.Now().Before(deadline) && syscall.Kill(pid, 0) == nil {
				time.Sleep(100 * time.Millisecond)
			}
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			stopped = append(stopped, e.Name())
		}
		_ = os.Remove(path)
	}
	return stopped, nil
}

// waitFor polls check until it succeeds, the process dies or ctx ends.
func waitFor(ctx context.Context, p *process, timeout time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		if p != nil && !p.running() {
			return p.exitError()
		}
		if last = check(ctx); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s: %w", p.name, timeout, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Tail returns the last n lines of a log file (or why it cannot be read).
func Tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// indent indents every line of s by two spaces.
func indent(s string) string { return "  " + strings.ReplaceAll(s, "\n", "\n  ") }
