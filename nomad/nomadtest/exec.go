package nomadtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/template"
	"time"

	"github.com/hashicorp/nomad/api"
)

// alloc is one allocation: a group's slot on a node, with its processes.
// Fields are guarded by s.mu except where noted.
type alloc struct {
	s                          *Server
	id, job, group, name, eval string
	index                      int
	node                       *api.Node
	desired, clientStatus      string
	clientDesc                 string
	lost                       bool
	createTime                 time.Time
	createIndex, modifyIndex   uint64
	ports                      map[string]int
	tasks                      []*taskRun
	regs                       []*api.ServiceRegistration
	checks                     map[string]*api.AllocCheckStatus
	checkStop                  context.CancelFunc
	done                       chan struct{} // closed when every task has exited
	stopCh                     chan struct{} // closed when the allocation is told to stop
	stopOnce                   sync.Once
	killOnce                   sync.Once
}

type taskRun struct {
	task       *api.Task
	cmd        *exec.Cmd
	state      string
	failed     bool
	startedAt  time.Time
	finishedAt time.Time
	exited     chan struct{}
	events     []*api.TaskEvent
	restarts   uint64
}

func (a *alloc) stub() *api.AllocationListStub {
	st := &api.AllocationListStub{
		ID: a.id, EvalID: a.eval, Name: a.name, Namespace: "default", NodeID: a.node.ID, NodeName: a.node.Name,
		JobID: a.job, JobType: "service", TaskGroup: a.group, DesiredStatus: a.desired, ClientStatus: a.clientStatus,
		ClientDescription: a.clientDesc, TaskStates: map[string]*api.TaskState{}, CreateIndex: a.createIndex,
		ModifyIndex: a.modifyIndex, CreateTime: a.createTime.UnixNano(), ModifyTime: time.Now().UnixNano(),
	}
	if j := a.s.jobs[a.job]; j != nil {
		st.JobType, st.JobVersion = *j.Type, *j.Version
	}
	for _, t := range a.tasks {
		st.TaskStates[t.task.Name] = &api.TaskState{State: t.state, Failed: t.failed, Restarts: t.restarts, StartedAt: t.startedAt, FinishedAt: t.finishedAt, Events: t.events}
	}
	return st
}

var interpRE = regexp.MustCompile(`\$\{([A-Za-z0-9_.\-]+)\}`)

// interpolate replaces ${NAME} as the Nomad client does: task environment
// variables, node.* and attr.* values; unknown references stay as they are.
func interpolate(s string, env map[string]string, node *api.Node) string {
	return interpRE.ReplaceAllStringFunc(s, func(m string) string {
		key := m[2 : len(m)-1]
		if v, ok := env[key]; ok {
			return v
		}
		switch {
		case key == "node.region":
			return "global"
		case key == "node.datacenter":
			return node.Datacenter
		case key == "node.unique.name":
			return node.Name
		case key == "node.unique.id":
			return node.ID
		case strings.HasPrefix(key, "attr."):
			if v, ok := node.Attributes[strings.TrimPrefix(key, "attr.")]; ok {
				return v
			}
		}
		return m
	})
}

// startAlloc places slot index of group g and starts its tasks. Callers
// hold s.mu.
func (s *Server) startAlloc(job *api.Job, g *api.TaskGroup, index int, evalID string, live []*alloc) *alloc {
	// Spread over nodes: the node with the fewest live allocations of the
	// group (distinct_hosts then holds whenever placement succeeded).
	node := s.nodes[0]
	best := -1
	for _, n := range s.nodes {
		if !s.fits(g, n) {
			continue
		}
		c := 0
		for _, a := range live {
			if a.node == n {
				c++
			}
		}
		if best == -1 || c < best {
			node, best = n, c
		}
	}
	a := &alloc{
		s: s, id: newID(), job: *job.ID, group: *g.Name, name: fmt.Sprintf("%s.%s[%d]", *job.ID, *g.Name, index),
		eval: evalID, index: index, node: node, desired: "run", clientStatus: "pending", createTime: time.Now(),
		ports: map[string]int{}, checks: map[string]*api.AllocCheckStatus{}, done: make(chan struct{}), stopCh: make(chan struct{}),
	}
	a.createIndex = s.publish(api.TopicAllocation, "PlanResult", a.id, map[string]any{"Allocation": a.stub()})
	a.modifyIndex = a.createIndex
	s.allocs[a.id] = a
	s.order = append(s.order, a.id)
	for _, n := range g.Networks {
		for _, p := range n.ReservedPorts {
			a.ports[p.Label] = p.Value
		}
		for _, p := range n.DynamicPorts {
			port, err := freePort()
			if err != nil {
				a.fail("no free port: " + err.Error())
				return a
			}
			a.ports[p.Label] = port
		}
	}
	allocDir := s.allocDir(a.id)
	for _, d := range []string{"alloc/logs", "alloc/data", "alloc/tmp"} {
		os.MkdirAll(filepath.Join(allocDir, d), 0o755)
	}
	var poststart []*taskRun
	for _, t := range g.Tasks {
		tr := &taskRun{task: t, state: "pending", exited: make(chan struct{})}
		a.tasks = append(a.tasks, tr)
		if t.Lifecycle != nil && t.Lifecycle.Hook == "poststart" {
			poststart = append(poststart, tr)
			continue
		}
		if err := s.startTask(job, g, a, tr); err != nil {
			a.fail(err.Error())
			return a
		}
	}
	for _, tr := range poststart {
		if err := s.startTask(job, g, a, tr); err != nil {
			a.fail(err.Error())
			return a
		}
	}
	a.clientStatus = "running"
	a.modifyIndex = s.publish(api.TopicAllocation, "AllocationUpdated", a.id, map[string]any{"Allocation": a.stub()})
	ctx, cancel := context.WithCancel(s.ctx)
	a.checkStop = cancel
	for _, svc := range g.Services {
		reg := s.addService(a, svc.Name, "127.0.0.1", a.ports[svc.PortLabel], svc.Tags)
		for _, c := range svc.Checks {
			s.runCheck(ctx, a, reg, c)
		}
	}
	s.goTracked(func() {
		for _, tr := range a.tasks {
			<-tr.exited
		}
		close(a.done)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.removeServices(a)
		if a.clientStatus == "running" || a.clientStatus == "pending" {
			a.clientStatus = "complete"
			for _, tr := range a.tasks {
				if tr.failed {
					a.clientStatus = "failed"
				}
			}
			if a.desired == "stop" {
				a.clientStatus = "complete"
			}
		}
		a.modifyIndex = s.publish(api.TopicAllocation, "AllocationUpdated", a.id, map[string]any{"Allocation": a.stub()})
	})
	return a
}

// fits reports whether node n has the drivers and devices of g's tasks.
func (s *Server) fits(g *api.TaskGroup, n *api.Node) bool {
	for _, t := range g.Tasks {
		if d := n.Drivers[t.Driver]; d == nil {
			return false
		}
		if t.Resources != nil {
			for _, dev := range t.Resources.Devices {
				if !nodeHasDevice(n, dev) {
					return false
				}
			}
		}
	}
	return true
}

// fail marks an allocation that could not start. Callers hold s.mu.
func (a *alloc) fail(desc string) {
	a.clientStatus, a.clientDesc = "failed", desc
	for _, tr := range a.tasks {
		if tr.cmd == nil {
			tr.state, tr.failed = "dead", true
			close(tr.exited)
		}
	}
}

// taskEnv builds a task's environment as the Nomad client does.
func (s *Server) taskEnv(job *api.Job, g *api.TaskGroup, a *alloc, t *api.Task) map[string]string {
	allocDir := s.allocDir(a.id)
	env := map[string]string{
		"NOMAD_ALLOC_ID": a.id, "NOMAD_ALLOC_NAME": a.name, "NOMAD_ALLOC_INDEX": strconv.Itoa(a.index),
		"NOMAD_ALLOC_DIR": filepath.Join(allocDir, "alloc"), "NOMAD_TASK_DIR": filepath.Join(allocDir, t.Name, "local"),
		"NOMAD_SECRETS_DIR": filepath.Join(allocDir, t.Name, "secrets"), "NOMAD_TASK_NAME": t.Name, "NOMAD_GROUP_NAME": *g.Name,
		"NOMAD_JOB_ID": *job.ID, "NOMAD_JOB_NAME": *job.Name, "NOMAD_DC": a.node.Datacenter, "NOMAD_REGION": "global",
		"NOMAD_NAMESPACE": "default", "NOMAD_SHORT_ALLOC_ID": a.id[:8],
	}
	// A Nomad client passes its own environment on to raw_exec tasks
	// (less its env.denylist); the fake passes the part tasks here need,
	// XDG_CONFIG_HOME among it so that a stich node keeps its owner key
	// where the test's CLI looks for it.
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "XDG_CONFIG_HOME"} {
		if v, ok := os.LookupEnv(k); ok {
			env[k] = v
		}
	}
	for label, port := range a.ports {
		env["NOMAD_PORT_"+label] = strconv.Itoa(port)
		env["NOMAD_HOST_PORT_"+label] = strconv.Itoa(port)
		env["NOMAD_IP_"+label] = "127.0.0.1"
		env["NOMAD_ADDR_"+label] = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	}
	for _, meta := range []map[string]string{job.Meta, g.Meta, t.Meta} {
		for k, v := range meta {
			env["NOMAD_META_"+k] = v
		}
	}
	for k, v := range t.Env {
		env[k] = interpolate(v, env, a.node)
	}
	return env
}

// startTask renders the task's templates, starts its process and
// supervises it: a task that fails while its allocation should run is
// restarted as its group's restart policy says (mode "fail": up to
// attempts times; mode "delay": again and again), each time after the
// policy's delay and with its templates rendered again. Callers hold s.mu.
func (s *Server) startTask(job *api.Job, g *api.TaskGroup, a *alloc, tr *taskRun) error {
	run, err := s.spawn(job, g, a, tr)
	if err != nil {
		return err
	}
	s.goTracked(func() { s.supervise(job, g, a, tr, run) })
	return nil
}

// process is one run of a task.
type process struct {
	cmd            *exec.Cmd
	stdout, stderr *os.File
}

// spawn starts one run of a task. Callers hold s.mu.
func (s *Server) spawn(job *api.Job, g *api.TaskGroup, a *alloc, tr *taskRun) (*process, error) {
	t := tr.task
	if t.Driver != "raw_exec" && t.Driver != "exec" {
		return nil, fmt.Errorf("driver %q cannot run in the fake", t.Driver)
	}
	taskDir := filepath.Join(s.allocDir(a.id), t.Name)
	for _, d := range []string{"local", "secrets", "tmp"} {
		os.MkdirAll(filepath.Join(taskDir, d), 0o755)
	}
	env := s.taskEnv(job, g, a, t)
	for _, tp := range t.Templates {
		out, err := s.renderTemplate(deref(tp.EmbeddedTmpl), env)
		if err != nil {
			return nil, fmt.Errorf("Template failed: %w", err)
		}
		if err := os.WriteFile(filepath.Join(taskDir, deref(tp.DestPath)), []byte(out), 0o644); err != nil {
			return nil, fmt.Errorf("Template failed: %w", err)
		}
		if deref(tp.Envvars) {
			sc := bufio.NewScanner(strings.NewReader(out))
			for sc.Scan() {
				if k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "="); ok && k != "" && !strings.HasPrefix(k, "#") {
					env[k] = v
				}
			}
		}
	}
	command, _ := t.Config["command"].(string)
	if command == "" {
		return nil, fmt.Errorf("task %q: missing command", t.Name)
	}
	var args []string
	if raw, ok := t.Config["args"].([]any); ok {
		for _, v := range raw {
			args = append(args, interpolate(fmt.Sprint(v), env, a.node))
		}
	}
	// Runs append to the same log files, as Nomad's log rotation does.
	logs := filepath.Join(s.allocDir(a.id), "alloc", "logs")
	stdout, err := os.OpenFile(filepath.Join(logs, t.Name+".stdout.0"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	stderr, err := os.OpenFile(filepath.Join(logs, t.Name+".stderr.0"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		stdout.Close()
		return nil, err
	}
	cmd := exec.Command(interpolate(command, env, a.node), args...)
	cmd.Dir = taskDir
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if err := cmd.Start(); err != nil {
		stdout.Close()
		stderr.Close()
		return nil, fmt.Errorf("failed to launch command: %w", err)
	}
	tr.cmd, tr.state, tr.startedAt = cmd, "running", time.Now()
	tr.events = append(tr.events, &api.TaskEvent{Type: "Started", Time: time.Now().UnixNano(), DisplayMessage: "Task started by client"})
	return &process{cmd, stdout, stderr}, nil
}

// supervise waits for a task's runs and restarts it per the restart policy.
func (s *Server) supervise(job *api.Job, g *api.TaskGroup, a *alloc, tr *taskRun, run *process) {
	defer close(tr.exited)
	for {
		err := run.cmd.Wait()
		run.stdout.Close()
		run.stderr.Close()
		s.mu.Lock()
		code := run.cmd.ProcessState.ExitCode()
		tr.events = append(tr.events, &api.TaskEvent{Type: "Terminated", Time: time.Now().UnixNano(), ExitCode: code,
			DisplayMessage: fmt.Sprintf("Exit Code: %d", code)})
		rp := g.RestartPolicy
		attempts, delay, mode := 0, 15*time.Second, "fail"
		if rp != nil {
			attempts, delay, mode = deref(rp.Attempts), deref(rp.Delay), deref(rp.Mode)
		}
		failed := err != nil && a.desired == "run" && !a.lost
		if !failed || (mode != "delay" && tr.restarts >= uint64(max(attempts, 0))) {
			tr.state, tr.finishedAt, tr.failed = "dead", time.Now(), failed
			s.mu.Unlock()
			return
		}
		tr.restarts++
		tr.state = "pending"
		tr.events = append(tr.events, &api.TaskEvent{Type: "Restarting", Time: time.Now().UnixNano(),
			DisplayMessage: fmt.Sprintf("Task restarting in %s", delay)})
		s.mu.Unlock()
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-a.stopCh:
		case <-s.ctx.Done():
		}
		t.Stop()
		s.mu.Lock()
		if a.desired != "run" || a.lost || s.ctx.Err() != nil {
			tr.state, tr.finishedAt = "dead", time.Now()
			s.mu.Unlock()
			return
		}
		run, err = s.spawn(job, g, a, tr)
		if err != nil {
			tr.state, tr.finishedAt, tr.failed = "dead", time.Now(), true
			tr.events = append(tr.events, &api.TaskEvent{Type: "Driver Failure", Time: time.Now().UnixNano(), DisplayMessage: err.Error()})
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// renderTemplate renders a template's data with the functions stich's
// jobs use (nomadService, env). Callers hold s.mu.
func (s *Server) renderTemplate(data string, env map[string]string) (string, error) {
	tp, err := template.New("t").Funcs(template.FuncMap{
		"nomadService": func(name string) []*api.ServiceRegistration {
			return append([]*api.ServiceRegistration(nil), s.services[name]...)
		},
		"env": func(k string) string { return env[k] },
	}).Parse(data)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := tp.Execute(&b, nil); err != nil {
		return "", err
	}
	return b.String(), nil
}

// stopAlloc tells an allocation to stop: its services leave the catalogue
// first, then each task gets its kill_signal (default SIGINT, as in
// Nomad) and SIGKILL after its kill_timeout (default 5s). Callers hold s.mu.
func (s *Server) stopAlloc(a *alloc, desc string) {
	a.desired, a.clientDesc = "stop", desc
	a.stopOnce.Do(func() { close(a.stopCh) })
	s.removeServices(a)
	a.modifyIndex = s.publish(api.TopicAllocation, "AllocationUpdated", a.id, map[string]any{"Allocation": a.stub()})
	s.goTracked(func() {
		if a.checkStop != nil {
			a.checkStop()
		}
		var wg sync.WaitGroup
		s.mu.Lock()
		type target struct {
			tr  *taskRun
			cmd *exec.Cmd
		}
		var targets []target
		for _, tr := range a.tasks {
			if tr.cmd != nil {
				targets = append(targets, target{tr, tr.cmd})
			}
		}
		s.mu.Unlock()
		for _, tg := range targets {
			tr, cmd := tg.tr, tg.cmd
			wg.Add(1)
			go func() {
				defer wg.Done()
				sig := syscall.SIGINT
				if tr.task.KillSignal != "" {
					if v, ok := signals[tr.task.KillSignal]; ok {
						sig = v
					}
				}
				timeout := 5 * time.Second
				if tr.task.KillTimeout != nil {
					timeout = *tr.task.KillTimeout
				}
				cmd.Process.Signal(sig)
				t := time.NewTimer(timeout)
				defer t.Stop()
				select {
				case <-tr.exited:
				case <-t.C:
					syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				case <-s.ctx.Done():
					syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				}
			}()
		}
		wg.Wait()
	})
}

var signals = map[string]syscall.Signal{"SIGTERM": syscall.SIGTERM, "SIGINT": syscall.SIGINT, "SIGQUIT": syscall.SIGQUIT, "SIGHUP": syscall.SIGHUP, "SIGKILL": syscall.SIGKILL}

// killNow SIGKILLs an allocation's process groups and waits for them.
func (a *alloc) killNow() {
	a.killOnce.Do(func() {
		a.s.mu.Lock()
		a.stopOnce.Do(func() { close(a.stopCh) })
		tasks := append([]*taskRun(nil), a.tasks...)
		var cmds []*exec.Cmd
		for _, tr := range tasks {
			cmds = append(cmds, tr.cmd)
		}
		a.s.mu.Unlock()
		for _, cmd := range cmds {
			if cmd != nil && cmd.Process != nil {
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			}
		}
		for i, tr := range tasks {
			if cmds[i] != nil {
				<-tr.exited
			}
		}
	})
}

func (a *alloc) stopChecks() {
	a.s.mu.Lock()
	stop := a.checkStop
	a.s.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// startCheck runs a check of a registration made by RegisterService.
// Callers hold s.mu.
func (s *Server) startCheck(a *alloc, reg *api.ServiceRegistration, c api.ServiceCheck) {
	ctx, cancel := context.WithCancel(s.ctx)
	a.checkStop = cancel
	s.runCheck(ctx, a, reg, c)
}

// runCheck runs a Nomad-native check at its interval and records each
// result in the allocation's check statuses. Callers hold s.mu.
func (s *Server) runCheck(ctx context.Context, a *alloc, reg *api.ServiceRegistration, c api.ServiceCheck) {
	id := newID()
	a.checks[id] = &api.AllocCheckStatus{ID: id, Check: c.Name, Group: a.job + "." + a.group, Mode: "healthiness",
		Service: reg.ServiceName, Status: "pending", Timestamp: time.Now().Unix()}
	interval, timeout := c.Interval, c.Timeout
	if interval <= 0 {
		interval = 10 * time.Second
	}
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	addr := net.JoinHostPort(reg.Address, strconv.Itoa(reg.Port))
	hc := &http.Client{Timeout: timeout}
	s.goTracked(func() {
		defer hc.CloseIdleConnections()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			status, code, output := "success", 0, ""
			switch c.Type {
			case "tcp":
				conn, err := net.DialTimeout("tcp", addr, timeout)
				if err != nil {
					status, output = "failure", err.Error()
				} else {
					conn.Close()
					output = "nomad: tcp ok"
				}
			default:
				method := c.Method
				if method == "" {
					method = http.MethodGet
				}
				req, _ := http.NewRequestWithContext(ctx, method, "http://"+addr+c.Path, strings.NewReader(c.Body))
				resp, err := hc.Do(req)
				if err != nil {
					status, output = "failure", err.Error()
				} else {
					b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
					resp.Body.Close()
					code, output = resp.StatusCode, string(b)
					if code < 200 || code > 299 {
						status = "failure"
					}
				}
			}
			if ctx.Err() != nil {
				return
			}
			s.mu.Lock()
			a.checks[id] = &api.AllocCheckStatus{ID: id, Check: c.Name, Group: a.job + "." + a.group, Mode: "healthiness",
				Service: reg.ServiceName, Status: status, StatusCode: code, Output: output, Timestamp: time.Now().Unix()}
			s.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
}

// logs streams a task's stdout or stderr as the client does: JSON
// StreamFrames with base64 data, following the file while the task runs
// when follow=true, or the raw bytes with plain=true.
func (s *Server) logs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	a := s.allocs[r.PathValue("id")]
	var tr *taskRun
	if a != nil {
		for _, t := range a.tasks {
			if t.task.Name == q.Get("task") {
				tr = t
			}
		}
	}
	s.mu.Unlock()
	if a == nil {
		http.Error(w, "Unknown allocation", http.StatusNotFound)
		return
	}
	if tr == nil {
		http.Error(w, fmt.Sprintf("unknown task name %q", q.Get("task")), http.StatusBadRequest)
		return
	}
	typ := q.Get("type")
	if typ != "stdout" && typ != "stderr" {
		http.Error(w, "must specify a valid log type (stdout or stderr)", http.StatusBadRequest)
		return
	}
	name := tr.task.Name + "." + typ + ".0"
	path := filepath.Join(s.allocDir(a.id), "alloc", "logs", name)
	offset, _ := strconv.ParseInt(q.Get("offset"), 10, 64)
	follow, plain := q.Get("follow") == "true", q.Get("plain") == "true"
	if q.Get("origin") == "end" {
		if fi, err := os.Stat(path); err == nil {
			offset = max(fi.Size()-offset, 0)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if plain {
		w.Header().Set("Content-Type", "text/plain")
	}
	fl, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	buf := make([]byte, 64<<10)
	for {
		n := 0
		if f, err := os.Open(path); err == nil {
			n, _ = f.ReadAt(buf, offset)
			f.Close()
		}
		if n > 0 {
			var err error
			if plain {
				_, err = w.Write(buf[:n])
			} else {
				err = enc.Encode(api.StreamFrame{Offset: offset + int64(n), Data: buf[:n], File: "alloc/logs/" + name})
			}
			if err != nil {
				return
			}
			offset += int64(n)
			if fl != nil {
				fl.Flush()
			}
			continue
		}
		if !follow {
			return
		}
		select {
		case <-tr.exited:
			// One more read for what was written just before exit.
			if f, err := os.Open(path); err == nil {
				n, _ = f.ReadAt(buf, offset)
				f.Close()
				if n > 0 {
					continue
				}
			}
			return
		case <-r.Context().Done():
			return
		case <-s.ctx.Done():
			return
		case <-time.After(25 * time.Millisecond):
		}
	}
}
