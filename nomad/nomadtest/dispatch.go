package nomadtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"
)

// maxDispatchPayload is Nomad's limit on a dispatch payload (16 KiB).
const maxDispatchPayload = 16 << 10

// dispatch serves PUT /v1/job/:id/dispatch as Nomad does: the parent must
// be a parameterized job; the meta keys must cover its MetaRequired and
// stay within MetaRequired and MetaOptional; the payload must follow its
// Payload setting. The child job is the parent with the dispatch's meta,
// named parent/dispatch-<unix time>-<8 hex> (with an id prefix template:
// parent/dispatch-<template>-<unix time>-<8 hex>), and is evaluated at
// once.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) {
	var req api.JobDispatchRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, "failed to decode request body: "+err.Error(), http.StatusBadRequest)
		return
	}
	id := r.PathValue("id")
	if req.JobID != "" && req.JobID != id {
		http.Error(w, "Job ID does not match", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	parent := s.jobs[id]
	if parent == nil {
		http.Error(w, "parameterized job not found", http.StatusNotFound)
		return
	}
	pj := parent.ParameterizedJob
	if pj == nil {
		http.Error(w, fmt.Sprintf("Specified job %q is not a parameterized job", id), http.StatusBadRequest)
		return
	}
	if msg := checkDispatch(pj, req); msg != "" {
		http.Error(w, msg, http.StatusBadRequest)
		return
	}
	childID := fmt.Sprintf("%s%s%d-%s", id, api.JobDispatchLaunchSuffix, time.Now().Unix(), newID()[:8])
	if req.IdPrefixTemplate != "" {
		childID = fmt.Sprintf("%s%s%s-%d-%s", id, api.JobDispatchLaunchSuffix, req.IdPrefixTemplate, time.Now().Unix(), newID()[:8])
	}
	child := cloneJob(parent)
	child.ID, child.Name, child.ParentID = ptr(childID), ptr(childID), ptr(id)
	child.ParameterizedJob, child.Dispatched, child.Payload = nil, true, req.Payload
	child.Meta = map[string]string{}
	for k, v := range parent.Meta {
		child.Meta[k] = v
	}
	for k, v := range req.Meta {
		child.Meta[k] = v
	}
	idx := s.publish(api.TopicJob, "JobRegistered", childID, map[string]any{"Job": child})
	var version uint64
	child.Version, child.CreateIndex, child.ModifyIndex, child.JobModifyIndex = &version, &idx, &idx, &idx
	child.Status, child.Stop, child.SubmitTime = ptr("pending"), ptr(false), ptr(time.Now().UnixNano())
	s.jobs[childID] = child
	ev := s.reconcile(child, "job-register", false)
	writeJSON(w, s.index, api.JobDispatchResponse{DispatchedJobID: childID, EvalID: ev.ID, EvalCreateIndex: ev.CreateIndex, JobCreateIndex: idx})
}

// checkDispatch returns Nomad's refusal of a dispatch, or "".
func checkDispatch(pj *api.ParameterizedJobConfig, req api.JobDispatchRequest) string {
	switch {
	case pj.Payload == "forbidden" && len(req.Payload) > 0:
		return "Payload is not allowed"
	case pj.Payload == "required" && len(req.Payload) == 0:
		return "Payload is required"
	case len(req.Payload) > maxDispatchPayload:
		return fmt.Sprintf("Payload exceeds maximum size; %d > %d", len(req.Payload), maxDispatchPayload)
	}
	var missing []string
	for _, k := range pj.MetaRequired {
		if _, ok := req.Meta[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Sprintf("Dispatch did not provide required meta keys: %v", missing)
	}
	allowed := map[string]bool{}
	for _, k := range append(append([]string(nil), pj.MetaRequired...), pj.MetaOptional...) {
		allowed[k] = true
	}
	var extra []string
	for k := range req.Meta {
		if !allowed[k] {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return fmt.Sprintf("Dispatch provided unpermitted meta keys: %v", extra)
	}
	return ""
}

// cloneJob deep-copies a job through its JSON form (the server's own
// copy is what a child job starts from).
func cloneJob(j *api.Job) *api.Job {
	b, err := json.Marshal(j)
	if err != nil {
		panic(fmt.Sprintf("nomadtest: copy job: %v", err)) // an api.Job always encodes
	}
	var c api.Job
	if err := json.Unmarshal(b, &c); err != nil {
		panic(fmt.Sprintf("nomadtest: copy job: %v", err))
	}
	return &c
}

// deregister serves DELETE /v1/job/:id as Nomad does: the job is marked
// stopped (purge=true removes it) and its allocations are stopped.
func (s *Server) deregister(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.PathValue("id")
	j := s.jobs[id]
	if j == nil {
		http.Error(w, "job not found", http.StatusNotFound)
		return
	}
	for _, aid := range s.order {
		if a := s.allocs[aid]; a.job == id && a.desired == "run" {
			s.stopAlloc(a, "alloc not needed since job is stopped")
		}
	}
	j.Stop, j.Status = ptr(true), ptr("dead")
	idx := s.publish(api.TopicJob, "JobDeregistered", id, map[string]any{"Job": j})
	if r.URL.Query().Get("purge") == "true" {
		delete(s.jobs, id)
	}
	ev := &api.Evaluation{ID: newID(), Namespace: "default", Priority: deref(j.Priority), Type: deref(j.Type), TriggeredBy: "job-deregister",
		JobID: id, Status: "complete", CreateTime: time.Now().UnixNano(), CreateIndex: idx, ModifyIndex: idx}
	s.evals[ev.ID] = ev
	writeJSON(w, idx, api.JobDeregisterResponse{EvalID: ev.ID, EvalCreateIndex: idx, JobModifyIndex: idx})
}

// jobList serves GET /v1/jobs, with Nomad's prefix filter, sorted by id.
func (s *Server) jobList(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	prefix := r.URL.Query().Get("prefix")
	out := []*api.JobListStub{}
	for id, j := range s.jobs {
		if !strings.HasPrefix(id, prefix) {
			continue
		}
		out = append(out, &api.JobListStub{ID: id, ParentID: deref(j.ParentID), Name: deref(j.Name), Namespace: "default",
			Type: deref(j.Type), Priority: deref(j.Priority), Status: deref(j.Status), Stop: deref(j.Stop),
			CreateIndex: deref(j.CreateIndex), ModifyIndex: deref(j.ModifyIndex), JobModifyIndex: deref(j.JobModifyIndex),
			SubmitTime: deref(j.SubmitTime), ParameterizedJob: j.ParameterizedJob != nil})
	}
	sort.Slice(out, func(i, k int) bool { return out[i].ID < out[k].ID })
	writeJSON(w, s.index, out)
}
