// Package nomadtest is an in-process fake of the Nomad HTTP API, faithful
// to the real one for every endpoint package nomad uses, so that job
// submission, scaling, service discovery and log streaming are tested
// through github.com/hashicorp/nomad/api without a Nomad binary.
//
// # What it serves
//
// PUT /v1/jobs (register), PUT /v1/job/:id/plan, GET /v1/job/:id,
// GET /v1/job/:id/allocations, PUT /v1/job/:id/scale,
// GET /v1/jobs (prefix), DELETE /v1/job/:id, PUT /v1/job/:id/dispatch (parameterized jobs: meta and payload checked,
// child jobs named parent/dispatch-<time>-<id>), GET /v1/allocation/:id,
// GET /v1/evaluation/:id, GET /v1/service/:name and /v1/services (blocking
// queries: index and wait parameters, X-Nomad-Index on every answer),
// GET /v1/client/allocation/:id/checks, GET /v1/event/stream (NDJSON, with
// "{}" heartbeats), GET /v1/client/fs/logs/:alloc (JSON stream frames),
// GET /v1/nodes and /v1/node/:id. Payloads are the nomad/api types
// themselves, encoded as the server encodes them.
//
// # What it does
//
// A registered job is checked as the server would ([nomad.CheckJob]);
// groups are placed on the fake's nodes (each with its drivers and
// devices: a group asking for a device no node has fails placement with
// the "missing devices" constraint, an unknown driver with "missing
// drivers", exactly the metrics `nomad job status` prints).
// raw_exec and exec tasks run as local child processes (exec without its
// chroot: the fake isolates nothing) with Nomad's environment
// (NOMAD_ALLOC_INDEX, NOMAD_ADDR_<port>, NOMAD_META_*, ...), `${...}`
// interpolation, and templates rendered with nomadService; their
// services are registered in the catalogue when they start and removed
// before they are signalled. A task that fails while its allocation should
// run is restarted per its group's restart policy (attempts and delay;
// mode "delay" restarts without limit; the interval is not modelled), with
// its templates rendered again. Stopping an allocation sends the task's
// kill_signal and SIGKILL after kill_timeout. Scaling down stops the
// highest-indexed slots first, as Nomad does. Nomad-native http and tcp
// checks run at their interval.
//
// Failure modes for tests: [WithACL] refuses requests without the token
// (403 "Permission denied", or "ACL token not found" for an unknown one);
// [Server.LoseAlloc] marks an allocation lost (and replaces it for service
// jobs); [WithMaxWait] bounds blocking queries, which answer with the
// unchanged index when the wait times out.
//
// Package nomadtest is for tests and development tools; it imports package
// nomad (for CheckJob) and nothing else of stich.
package nomadtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/stichdev/stich/nomad"
)

// Option configures a [Server].
type Option func(*Server)

// WithACL turns ACLs on: every request must carry token in X-Nomad-Token.
func WithACL(token string) Option { return func(s *Server) { s.token = token } }

// WithMaxWait caps a blocking query's wait (Nomad's default is 5m, its
// maximum 10m); default 5m.
func WithMaxWait(d time.Duration) Option { return func(s *Server) { s.maxWait = d } }

// WithHeartbeat sets the event stream heartbeat interval (Nomad: 10s).
func WithHeartbeat(d time.Duration) Option { return func(s *Server) { s.heartbeat = d } }

// WithNodes sets the client nodes (default: one node "local-1" in dc1 with
// the raw_exec and exec drivers and no devices).
func WithNodes(nodes ...Node) Option { return func(s *Server) { s.nodeSpecs = nodes } }

// WithDataDir sets where allocation folders go (default: a temp folder
// removed on Close).
func WithDataDir(dir string) Option { return func(s *Server) { s.dataDir = dir } }

// Node describes a fake client node.
type Node struct {
	Name       string
	Datacenter string
	// Drivers the node has; default raw_exec and exec.
	Drivers []string
	// GPUs is the number of nvidia/gpu devices, each with GPUMemoryMiB.
	GPUs         int
	GPUMemoryMiB int
}

// Server is a running fake.
type Server struct {
	// URL is the address to give the client (NOMAD_ADDR).
	URL string

	ts        *httptest.Server
	token     string
	maxWait   time.Duration
	heartbeat time.Duration
	nodeSpecs []Node
	dataDir   string
	ownDir    bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	index    uint64
	changed  chan struct{} // closed when index moves; blocking queries wait on it
	nodes    []*api.Node
	jobs     map[string]*api.Job
	allocs   map[string]*alloc
	order    []string // alloc ids in creation order
	evals    map[string]*api.Evaluation
	services map[string][]*api.ServiceRegistration
	svcIndex map[string]uint64 // per service name; a deleted name keeps its last index
	events   []api.Event
	closed   bool
}

// New starts a fake on a loopback port. Close it when done.
func New(opts ...Option) (*Server, error) {
	s := &Server{
		maxWait: 5 * time.Minute, heartbeat: 10 * time.Second,
		changed: make(chan struct{}), jobs: map[string]*api.Job{}, allocs: map[string]*alloc{},
		evals: map[string]*api.Evaluation{}, services: map[string][]*api.ServiceRegistration{}, svcIndex: map[string]uint64{},
		index: 1,
	}
	for _, o := range opts {
		o(s)
	}
	if s.dataDir == "" {
		d, err := os.MkdirTemp("", "nomadtest-")
		if err != nil {
			return nil, fmt.Errorf("nomadtest: %w", err)
		}
		s.dataDir, s.ownDir = d, true
	}
	if len(s.nodeSpecs) == 0 {
		s.nodeSpecs = []Node{{Name: "local-1"}}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /v1/jobs", s.register)
	mux.HandleFunc("POST /v1/jobs", s.register)
	mux.HandleFunc("PUT /v1/job/{id}/plan", s.plan)
	mux.HandleFunc("GET /v1/job/{id}", s.jobInfo)
	mux.HandleFunc("GET /v1/jobs", s.jobList)
	mux.HandleFunc("DELETE /v1/job/{id}", s.deregister)
	mux.HandleFunc("PUT /v1/job/{id}/dispatch", s.dispatch)
	mux.HandleFunc("POST /v1/job/{id}/dispatch", s.dispatch)
	mux.HandleFunc("GET /v1/job/{id}/allocations", s.jobAllocs)
	mux.HandleFunc("PUT /v1/job/{id}/scale", s.scale)
	mux.HandleFunc("POST /v1/job/{id}/scale", s.scale)
	mux.HandleFunc("GET /v1/allocation/{id}", s.allocInfo)
	mux.HandleFunc("GET /v1/evaluation/{id}", s.evalInfo)
	mux.HandleFunc("GET /v1/service/{name}", s.serviceGet)
	mux.HandleFunc("GET /v1/client/allocation/{id}/checks", s.allocChecks)
	mux.HandleFunc("GET /v1/event/stream", s.eventStream)
	mux.HandleFunc("GET /v1/client/fs/logs/{id}", s.logs)
	mux.HandleFunc("GET /v1/nodes", s.nodeList)
	mux.HandleFunc("GET /v1/node/{id}", s.nodeInfo)
	s.ts = httptest.NewServer(s.acl(mux))
	s.URL = s.ts.URL
	host := strings.TrimPrefix(s.ts.URL, "http://")
	for i, ns := range s.nodeSpecs {
		if ns.Name == "" {
			ns.Name = fmt.Sprintf("local-%d", i+1)
		}
		if ns.Datacenter == "" {
			ns.Datacenter = "dc1"
		}
		if ns.Drivers == nil {
			ns.Drivers = []string{"raw_exec", "exec"}
		}
		s.nodeSpecs[i] = ns
		n := &api.Node{
			ID: newID(), Name: ns.Name, Datacenter: ns.Datacenter, NodePool: "default", HTTPAddr: host,
			Status: "ready", SchedulingEligibility: "eligible", Drivers: map[string]*api.DriverInfo{},
			Attributes:    map[string]string{"unique.network.ip-address": "127.0.0.1", "nomad.version": "1.10.5"},
			NodeResources: &api.NodeResources{}, CreateIndex: 1, ModifyIndex: 1,
		}
		for _, d := range ns.Drivers {
			n.Drivers[d] = &api.DriverInfo{Detected: true, Healthy: true}
			n.Attributes["driver."+d] = "1"
		}
		if ns.GPUs > 0 {
			dev := &api.NodeDeviceResource{Vendor: "nvidia", Type: "gpu", Name: "fake",
				Attributes: map[string]*api.Attribute{"memory": {IntVal: ptr(int64(ns.GPUMemoryMiB)), Unit: "MiB"}}}
			for g := range ns.GPUs {
				dev.Instances = append(dev.Instances, &api.NodeDevice{ID: fmt.Sprintf("GPU-%d", g), Healthy: true})
			}
			n.NodeResources.Devices = []*api.NodeDeviceResource{dev}
		}
		s.nodes = append(s.nodes, n)
	}
	return s, nil
}

// Close stops every task (SIGKILL), ends open streams and removes the
// fake's own data folder. It is safe to call more than once.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	var running []*alloc
	for _, a := range s.allocs {
		running = append(running, a)
	}
	s.mu.Unlock()
	s.cancel()
	for _, a := range running {
		a.killNow()
	}
	s.ts.CloseClientConnections()
	s.ts.Close()
	s.wg.Wait()
	if s.ownDir {
		os.RemoveAll(s.dataDir)
	}
}

func (s *Server) goTracked(f func()) {
	s.wg.Add(1)
	go func() { defer s.wg.Done(); f() }()
}

// bump moves the index and wakes blocking queries. Callers hold s.mu.
func (s *Server) bump() uint64 {
	s.index++
	close(s.changed)
	s.changed = make(chan struct{})
	return s.index
}

// publish records an event at a new index. Callers hold s.mu.
func (s *Server) publish(topic api.Topic, typ, key string, payload map[string]any) uint64 {
	idx := s.bump()
	// NB: payloads are encoded at publication, as the server's event
	// buffer holds immutable snapshots.
	b, _ := json.Marshal(payload)
	var snap map[string]any
	_ = json.Unmarshal(b, &snap)
	s.events = append(s.events, api.Event{Topic: topic, Type: typ, Key: key, Index: idx, Payload: snap})
	return idx
}

func (s *Server) acl(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.token != "" {
			tok := r.Header.Get("X-Nomad-Token")
			if tok == "" {
				tok = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			}
			switch {
			case tok == "":
				http.Error(w, "Permission denied", http.StatusForbidden)
				return
			case tok != s.token:
				http.Error(w, "ACL token not found", http.StatusForbidden)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, index uint64, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Nomad-Index", strconv.FormatUint(index, 10))
	w.Header().Set("X-Nomad-LastContact", "0")
	w.Header().Set("X-Nomad-KnownLeader", "true")
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Write(b)
}

func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	var req api.JobRegisterRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, "failed to decode request body: "+err.Error(), http.StatusBadRequest)
		return
	}
	job := req.Job
	if job == nil {
		http.Error(w, "Job must be specified", http.StatusBadRequest)
		return
	}
	job.Canonicalize()
	if err := nomad.CheckJob(job); err != nil {
		http.Error(w, "Job validation failed: "+err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := *job.ID
	old := s.jobs[id]
	if req.EnforceIndex && ((old == nil && req.JobModifyIndex != 0) || (old != nil && *old.JobModifyIndex != req.JobModifyIndex)) {
		http.Error(w, fmt.Sprintf("Enforcing job modify index %d: job exists with conflicting job modify index", req.JobModifyIndex), http.StatusBadRequest)
		return
	}
	var version uint64
	var create uint64
	if old != nil {
		version = *old.Version + 1
		create = *old.CreateIndex
	}
	idx := s.publish(api.TopicJob, "JobRegistered", id, map[string]any{"Job": job})
	if old == nil {
		create = idx
	}
	job.Version, job.CreateIndex, job.ModifyIndex, job.JobModifyIndex = &version, &create, &idx, &idx
	job.Status, job.Stop, job.SubmitTime = ptr("pending"), ptr(false), ptr(time.Now().UnixNano())
	replace := old != nil && !sameTasks(old, job)
	s.jobs[id] = job
	if job.ParameterizedJob != nil {
		writeJSON(w, idx, api.JobRegisterResponse{JobModifyIndex: idx})
		return
	}
	ev := s.reconcile(job, "job-register", replace)
	writeJSON(w, s.index, api.JobRegisterResponse{EvalID: ev.ID, EvalCreateIndex: ev.CreateIndex, JobModifyIndex: idx})
}

// sameTasks reports whether only counts differ between two versions.
func sameTasks(a, b *api.Job) bool {
	strip := func(j *api.Job) []byte {
		var groups []any
		for _, g := range j.TaskGroups {
			groups = append(groups, []any{g.Name, g.Tasks, g.Services, g.Networks, g.Volumes})
		}
		out, _ := json.Marshal(groups)
		return out
	}
	return string(strip(a)) == string(strip(b))
}

func (s *Server) plan(w http.ResponseWriter, r *http.Request) {
	var req api.JobPlanRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Job == nil {
		http.Error(w, "failed to decode request body", http.StatusBadRequest)
		return
	}
	req.Job.Canonicalize()
	if err := nomad.CheckJob(req.Job); err != nil {
		http.Error(w, "Job validation failed: "+err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.jobs[*req.Job.ID]
	resp := api.JobPlanResponse{Annotations: &api.PlanAnnotations{DesiredTGUpdates: map[string]*api.DesiredUpdates{}}, FailedTGAllocs: map[string]*api.AllocationMetric{}}
	diffType := "Added"
	if old != nil {
		resp.JobModifyIndex = *old.JobModifyIndex
		diffType = "Edited"
		if sameTasks(old, req.Job) && countsOf(old) == countsOf(req.Job) {
			diffType = "None"
		}
	}
	resp.Diff = &api.JobDiff{Type: diffType, ID: *req.Job.ID}
	for _, g := range req.Job.TaskGroups {
		running := len(s.liveAllocs(*req.Job.ID, *g.Name))
		want := *g.Count
		du := &api.DesiredUpdates{}
		switch {
		case old != nil && !sameTasks(old, req.Job):
			du.DestructiveUpdate = uint64(min(running, want))
			if want > running {
				du.Place = uint64(want - running)
			} else {
				du.Stop = uint64(running - want)
			}
		case want > running:
			du.Place, du.Ignore = uint64(want-running), uint64(running)
		default:
			du.Stop, du.Ignore = uint64(running-want), uint64(want)
		}
		resp.Annotations.DesiredTGUpdates[*g.Name] = du
		if m := s.placementFailure(req.Job, g); m != nil {
			resp.FailedTGAllocs[*g.Name] = m
		}
	}
	writeJSON(w, s.index, resp)
}

func countsOf(j *api.Job) string {
	var c []int
	for _, g := range j.TaskGroups {
		c = append(c, *g.Count)
	}
	return fmt.Sprint(c)
}

func (s *Server) jobInfo(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.jobs[r.PathValue("id")]
	if j == nil {
		http.Error(w, "job not found", http.StatusNotFound)
		return
	}
	writeJSON(w, *j.ModifyIndex, j)
}

func (s *Server) jobAllocs(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.PathValue("id")
	if s.jobs[id] == nil {
		writeJSON(w, s.index, []*api.AllocationListStub{})
		return
	}
	out := []*api.AllocationListStub{}
	for _, aid := range s.order {
		if a := s.allocs[aid]; a.job == id {
			out = append(out, a.stub())
		}
	}
	writeJSON(w, s.index, out)
}

func (s *Server) scale(w http.ResponseWriter, r *http.Request) {
	var req api.ScalingRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, "failed to decode request body", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	job := s.jobs[r.PathValue("id")]
	if job == nil {
		http.Error(w, "job not found", http.StatusNotFound)
		return
	}
	groupName := req.Target["Group"]
	var group *api.TaskGroup
	for _, g := range job.TaskGroups {
		if *g.Name == groupName {
			group = g
		}
	}
	if group == nil {
		http.Error(w, fmt.Sprintf("job scaling blocked due to unknown task group %q", groupName), http.StatusBadRequest)
		return
	}
	if req.Count == nil {
		http.Error(w, "scaling action should specify count", http.StatusBadRequest)
		return
	}
	if *req.Count < 0 {
		http.Error(w, "scaling action count can't be negative", http.StatusBadRequest)
		return
	}
	group.Count = ptr(int(*req.Count))
	v := *job.Version + 1
	idx := s.publish(api.TopicJob, "JobRegistered", *job.ID, map[string]any{"Job": job})
	job.Version, job.ModifyIndex, job.JobModifyIndex = &v, &idx, &idx
	ev := s.reconcile(job, "job-scaling", false)
	writeJSON(w, s.index, api.JobRegisterResponse{EvalID: ev.ID, EvalCreateIndex: ev.CreateIndex, JobModifyIndex: idx})
}

func (s *Server) allocInfo(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.allocs[r.PathValue("id")]
	if a == nil {
		http.Error(w, "alloc not found", http.StatusNotFound)
		return
	}
	st := a.stub()
	writeJSON(w, st.ModifyIndex, &api.Allocation{
		ID: st.ID, Namespace: st.Namespace, EvalID: st.EvalID, Name: st.Name, NodeID: st.NodeID, NodeName: st.NodeName,
		JobID: st.JobID, Job: s.jobs[a.job], TaskGroup: st.TaskGroup, DesiredStatus: st.DesiredStatus, ClientStatus: st.ClientStatus,
		ClientDescription: st.ClientDescription, TaskStates: st.TaskStates, CreateIndex: st.CreateIndex, ModifyIndex: st.ModifyIndex,
		CreateTime: st.CreateTime, ModifyTime: st.ModifyTime,
	})
}

func (s *Server) evalInfo(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.evals[r.PathValue("id")]
	if e == nil {
		http.Error(w, "eval not found", http.StatusNotFound)
		return
	}
	writeJSON(w, e.ModifyIndex, e)
}

// blockingParams reads index and wait as Nomad does (wait is capped, and
// a jitter of up to wait/16 is added so that clients spread out).
func (s *Server) blockingParams(r *http.Request) (uint64, time.Duration, error) {
	q := r.URL.Query()
	var index uint64
	if v := q.Get("index"); v != "" {
		var err error
		if index, err = strconv.ParseUint(v, 10, 64); err != nil {
			return 0, 0, fmt.Errorf("Invalid index: %w", err)
		}
	}
	wait := s.maxWait
	if v := q.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return 0, 0, fmt.Errorf("Invalid wait time: %w", err)
		}
		wait = min(d, s.maxWait)
	}
	return index, wait, nil
}

func (s *Server) serviceGet(w http.ResponseWriter, r *http.Request) {
	minIndex, wait, err := s.blockingParams(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	name := r.PathValue("name")
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		idx := s.svcIndex[name]
		if idx == 0 {
			idx = 1
		}
		if minIndex == 0 || idx > minIndex {
			out := append([]*api.ServiceRegistration{}, s.services[name]...)
			s.mu.Unlock()
			if tags := r.URL.Query()["tag"]; len(tags) > 0 {
				out = slices.DeleteFunc(out, func(sr *api.ServiceRegistration) bool {
					for _, t := range tags {
						if !slices.Contains(sr.Tags, t) {
							return true
						}
					}
					return false
				})
			}
			writeJSON(w, idx, out)
			return
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			// Timed out: the unchanged index and the current list.
			minIndex = 0
		case <-r.Context().Done():
			return
		case <-s.ctx.Done():
			return
		}
	}
}

func (s *Server) allocChecks(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.allocs[r.PathValue("id")]
	if a == nil {
		http.Error(w, "Unknown allocation", http.StatusNotFound)
		return
	}
	out := api.AllocCheckStatuses{}
	for id, st := range a.checks {
		out[id] = *st
	}
	writeJSON(w, s.index, out)
}

func (s *Server) eventStream(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	from, _ := strconv.ParseUint(q.Get("index"), 10, 64)
	topics := map[api.Topic][]string{}
	for _, t := range q["topic"] {
		topic, key, _ := strings.Cut(t, ":")
		if key == "" {
			key = "*"
		}
		topics[api.Topic(topic)] = append(topics[api.Topic(topic)], key)
	}
	match := func(e api.Event) bool {
		if len(topics) == 0 {
			return true
		}
		for _, tp := range []api.Topic{e.Topic, api.TopicAll} {
			for _, k := range topics[tp] {
				if k == "*" || k == e.Key {
					return true
				}
			}
		}
		return false
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	hb := time.NewTicker(s.heartbeat)
	defer hb.Stop()
	next := from + 1
	for {
		s.mu.Lock()
		var batch []api.Event
		for _, e := range s.events {
			if e.Index >= next && match(e) {
				batch = append(batch, e)
			}
		}
		next = s.index + 1
		ch := s.changed
		s.mu.Unlock()
		// One Events object per index, as the server sends them.
		for i := 0; i < len(batch); {
			j := i
			for j < len(batch) && batch[j].Index == batch[i].Index {
				j++
			}
			if enc.Encode(api.Events{Index: batch[i].Index, Events: batch[i:j]}) != nil {
				return
			}
			i = j
		}
		if fl != nil {
			fl.Flush()
		}
		select {
		case <-ch:
		case <-hb.C:
			if _, err := w.Write([]byte("{}\n")); err != nil {
				return
			}
			if fl != nil {
				fl.Flush()
			}
		case <-r.Context().Done():
			return
		case <-s.ctx.Done():
			return
		}
	}
}

func (s *Server) nodeList(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []*api.NodeListStub{}
	for _, n := range s.nodes {
		out = append(out, &api.NodeListStub{
			Address: "127.0.0.1", ID: n.ID, Datacenter: n.Datacenter, Name: n.Name, NodePool: n.NodePool,
			Version: n.Attributes["nomad.version"], SchedulingEligibility: n.SchedulingEligibility, Status: n.Status,
			Drivers: n.Drivers, CreateIndex: n.CreateIndex, ModifyIndex: n.ModifyIndex,
		})
	}
	writeJSON(w, s.index, out)
}

func (s *Server) nodeInfo(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.nodes {
		if n.ID == r.PathValue("id") {
			writeJSON(w, n.ModifyIndex, n)
			return
		}
	}
	http.Error(w, "node not found", http.StatusNotFound)
}

// RegisterService adds a registration to the catalogue as a task's
// service would be, for servers the test runs itself (model servers).
// With check non-nil the fake runs the check and reports it through the
// checks endpoint of the registration's allocation. It returns the
// registration's allocation id.
func (s *Server) RegisterService(name, jobID string, addr string, port int, tags []string, check *api.ServiceCheck) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := &alloc{s: s, id: newID(), job: jobID, group: name, name: fmt.Sprintf("%s.%s[0]", jobID, name), node: s.nodes[0],
		clientStatus: "running", desired: "run", checks: map[string]*api.AllocCheckStatus{}, done: make(chan struct{}), stopCh: make(chan struct{}), createTime: time.Now()}
	s.allocs[a.id] = a
	s.order = append(s.order, a.id)
	reg := s.addService(a, name, addr, port, tags)
	if check != nil {
		s.startCheck(a, reg, *check)
	}
	return a.id
}

// DeregisterService removes the registrations of an allocation made by
// [Server.RegisterService] and stops its checks.
func (s *Server) DeregisterService(allocID string) {
	s.mu.Lock()
	a := s.allocs[allocID]
	s.mu.Unlock()
	if a != nil {
		a.stopChecks()
		s.mu.Lock()
		s.removeServices(a)
		a.clientStatus = "complete"
		s.mu.Unlock()
	}
}

// LoseAlloc marks an allocation lost, as when its node stops answering:
// its processes are killed, its services removed, and a service job gets
// a replacement in the same slot.
func (s *Server) LoseAlloc(allocID string) error {
	s.mu.Lock()
	a := s.allocs[allocID]
	if a == nil {
		s.mu.Unlock()
		return errors.New("nomadtest: no such allocation")
	}
	// NB: lost before its processes are killed, as Nomad reports it (the
	// node is gone: nobody sees them exit); marked after the kill, the
	// exit was reported first as "complete" and a watcher took that.
	a.lost = true
	a.clientStatus, a.desired, a.clientDesc = "lost", "stop", "alloc is lost since its node is down"
	s.removeServices(a)
	s.publish(api.TopicAllocation, "AllocationUpdated", a.id, map[string]any{"Allocation": a.stub()})
	s.mu.Unlock()
	a.stopChecks()
	a.killNow()
	s.mu.Lock()
	defer s.mu.Unlock()
	if j := s.jobs[a.job]; j != nil && *j.Type == api.JobTypeService {
		s.reconcile(j, "node-update", false)
	}
	return nil
}

// Allocs lists a job's allocations (all, stopped ones included).
func (s *Server) Allocs(jobID string) []*api.AllocationListStub {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*api.AllocationListStub
	for _, id := range s.order {
		if a := s.allocs[id]; a.job == jobID {
			out = append(out, a.stub())
		}
	}
	return out
}

// Index is the current Raft index of the fake.
func (s *Server) Index() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.index
}

// addService registers one service of an allocation. Callers hold s.mu.
func (s *Server) addService(a *alloc, name, addr string, port int, tags []string) *api.ServiceRegistration {
	idx := s.bump()
	reg := &api.ServiceRegistration{
		ID:          fmt.Sprintf("_nomad-task-%s-%s-%s-%d", a.id, a.group, name, port),
		ServiceName: name, Namespace: "default", NodeID: a.node.ID, Datacenter: a.node.Datacenter,
		JobID: a.job, AllocID: a.id, Tags: tags, Address: addr, Port: port, CreateIndex: idx, ModifyIndex: idx,
	}
	s.services[name] = append(s.services[name], reg)
	s.svcIndex[name] = idx
	a.regs = append(a.regs, reg)
	s.events = append(s.events, api.Event{Topic: api.TopicService, Type: "ServiceRegistration", Key: name, Index: idx,
		Payload: map[string]any{"Service": reg}})
	return reg
}

// removeServices deregisters an allocation's services. Callers hold s.mu.
func (s *Server) removeServices(a *alloc) {
	for _, reg := range a.regs {
		idx := s.bump()
		s.services[reg.ServiceName] = slices.DeleteFunc(s.services[reg.ServiceName], func(r *api.ServiceRegistration) bool { return r.ID == reg.ID })
		s.svcIndex[reg.ServiceName] = idx
		s.events = append(s.events, api.Event{Topic: api.TopicService, Type: "ServiceDeregistration", Key: reg.ServiceName, Index: idx,
			Payload: map[string]any{"Service": reg}})
	}
	a.regs = nil
}

// liveAllocs are a group's allocations not told to stop. Callers hold s.mu.
func (s *Server) liveAllocs(job, group string) []*alloc {
	var out []*alloc
	for _, id := range s.order {
		a := s.allocs[id]
		if a.job == job && a.group == group && a.desired == "run" && !a.lost && (a.clientStatus == "pending" || a.clientStatus == "running") {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].index < out[j].index })
	return out
}

// placementFailure is the metric of a group no node can take, or nil.
func (s *Server) placementFailure(job *api.Job, g *api.TaskGroup) *api.AllocationMetric {
	m := &api.AllocationMetric{NodesEvaluated: len(s.nodes), NodesInPool: len(s.nodes), NodePool: "default",
		ConstraintFiltered: map[string]int{}, NodesAvailable: map[string]int{}}
	ok := 0
	for _, n := range s.nodes {
		m.NodesAvailable[n.Datacenter]++
		reason := ""
		for _, t := range g.Tasks {
			if d := n.Drivers[t.Driver]; d == nil || !d.Detected {
				reason = "missing drivers"
				break
			}
			if t.Resources != nil {
				for _, dev := range t.Resources.Devices {
					if !nodeHasDevice(n, dev) {
						reason = "missing devices"
					}
				}
			}
		}
		if reason != "" {
			m.NodesFiltered++
			m.ConstraintFiltered[reason]++
			continue
		}
		ok++
	}
	if ok > 0 {
		distinct := false
		for _, c := range append(append([]*api.Constraint(nil), job.Constraints...), g.Constraints...) {
			distinct = distinct || c.Operand == api.ConstraintDistinctHosts
		}
		if !distinct || *g.Count <= ok {
			return nil
		}
		m.ConstraintFiltered[api.ConstraintDistinctHosts] = len(s.nodes)
		m.CoalescedFailures = *g.Count - ok - 1
	}
	return m
}

func nodeHasDevice(n *api.Node, dev *api.RequestedDevice) bool {
	want := uint64(1)
	if dev.Count != nil {
		want = *dev.Count
	}
	for _, d := range n.NodeResources.Devices {
		if dev.Name != d.Vendor+"/"+d.Type && dev.Name != d.Type && dev.Name != d.Vendor+"/"+d.Type+"/"+d.Name {
			continue
		}
		if uint64(len(d.Instances)) < want {
			continue
		}
		fits := true
		for _, c := range dev.Constraints {
			if c.LTarget == "${device.attr.memory}" && c.Operand == ">=" {
				var need int64
				var unit string
				fmt.Sscanf(c.RTarget, "%d %s", &need, &unit)
				if unit == "GiB" {
					need *= 1024
				}
				have := d.Attributes["memory"]
				fits = fits && have != nil && have.IntVal != nil && *have.IntVal >= need
			}
		}
		if fits {
			return true
		}
	}
	return false
}

// reconcile makes a job's allocations match its groups' counts: it places
// missing slots (lowest free index first) and stops surplus ones (highest
// index first), then records the evaluation. Callers hold s.mu.
func (s *Server) reconcile(job *api.Job, trigger string, replaceAll bool) *api.Evaluation {
	ev := &api.Evaluation{ID: newID(), Namespace: "default", Priority: *job.Priority, Type: *job.Type, TriggeredBy: trigger,
		JobID: *job.ID, Status: "complete", CreateTime: time.Now().UnixNano()}
	for _, g := range job.TaskGroups {
		live := s.liveAllocs(*job.ID, *g.Name)
		if replaceAll {
			for _, a := range live {
				s.stopAlloc(a, "alloc is being updated due to job update")
			}
			live = nil
		}
		for len(live) > *g.Count {
			s.stopAlloc(live[len(live)-1], "alloc not needed due to job update")
			live = live[:len(live)-1]
		}
		if len(live) == *g.Count {
			continue
		}
		if m := s.placementFailure(job, g); m != nil {
			if ev.FailedTGAllocs == nil {
				ev.FailedTGAllocs = map[string]*api.AllocationMetric{}
			}
			ev.FailedTGAllocs[*g.Name] = m
			ev.BlockedEval = newID()
			continue
		}
		used := map[int]bool{}
		for _, a := range live {
			used[a.index] = true
		}
		for i := 0; len(live) < *g.Count; i++ {
			if used[i] {
				continue
			}
			a := s.startAlloc(job, g, i, ev.ID, live)
			live = append(live, a)
		}
	}
	ev.CreateIndex = s.publish(api.TopicEvaluation, "EvaluationUpdated", ev.ID, map[string]any{"Evaluation": ev})
	ev.ModifyIndex = ev.CreateIndex
	s.evals[ev.ID] = ev
	job.Status = ptr("running")
	return ev
}

func newID() string {
	var b [16]byte
	rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func ptr[T any](v T) *T { return &v }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) allocDir(id string) string { return filepath.Join(s.dataDir, "alloc", id) }
