package nomad

import (
	"fmt"
	"slices"

	"github.com/hashicorp/nomad/api"
)

// CheckJob reports, all at once, the problems Nomad's own job validation
// (`nomad job validate`) would refuse the job for, among the fields stich's
// jobs use: ids and names, the job type, datacenters, non-empty groups and
// tasks with drivers, group-unique names, services whose port labels exist
// in the group's network, checks with an interval and timeout, devices
// with a count, an update block Nomad accepts, templates with a
// destination, parameterized jobs only as batch. The in-process fake runs
// it on every registration, as the real server does.
func CheckJob(j *api.Job) error {
	var p []string
	add := func(format string, a ...any) { p = append(p, fmt.Sprintf(format, a...)) }
	if j == nil {
		return problems([]string{"no job"})
	}
	id, name, typ := deref(j.ID), deref(j.Name), deref(j.Type)
	if !jobIDRE.MatchString(id) {
		add("job id %q is missing or malformed", id)
	}
	if name == "" {
		add("job %q has no name", id)
	}
	switch typ {
	case api.JobTypeService, api.JobTypeBatch, api.JobTypeSystem, api.JobTypeSysbatch:
	default:
		add("job type %q: want service, batch, system or sysbatch", typ)
	}
	if len(j.Datacenters) == 0 {
		add("job %q: missing datacenters", id)
	}
	if j.ParameterizedJob != nil && typ != api.JobTypeBatch {
		add("job %q: only batch jobs can be parameterized", id)
	}
	if len(j.TaskGroups) == 0 {
		add("job %q: missing task groups", id)
	}
	groups := map[string]bool{}
	for gi, g := range j.TaskGroups {
		gname := deref(g.Name)
		if gname == "" {
			add("group %d has no name", gi+1)
		}
		if groups[gname] {
			add("group %q is defined twice", gname)
		}
		groups[gname] = true
		if g.Count != nil && *g.Count < 0 {
			add("group %q: count %d is negative", gname, *g.Count)
		}
		if len(g.Tasks) == 0 {
			add("group %q: missing tasks", gname)
		}
		var ports []string
		for _, n := range g.Networks {
			for _, pt := range append(append([]api.Port(nil), n.DynamicPorts...), n.ReservedPorts...) {
				if slices.Contains(ports, pt.Label) {
					add("group %q: port label %q is defined twice", gname, pt.Label)
				}
				ports = append(ports, pt.Label)
			}
		}
		if u := g.Update; u != nil && typ == api.JobTypeService {
			if u.MaxParallel != nil && *u.MaxParallel < 0 {
				add("group %q: update max_parallel is negative", gname)
			}
			if u.Canary != nil && *u.Canary < 0 {
				add("group %q: update canary is negative", gname)
			}
			if u.HealthyDeadline != nil && u.MinHealthyTime != nil && *u.MinHealthyTime >= *u.HealthyDeadline {
				add("group %q: min_healthy_time must be less than healthy_deadline", gname)
			}
			if u.HealthyDeadline != nil && u.ProgressDeadline != nil && *u.ProgressDeadline != 0 && *u.ProgressDeadline < *u.HealthyDeadline {
				add("group %q: progress_deadline must be at least healthy_deadline", gname)
			}
		}
		for _, v := range g.Volumes {
			if v.Type != "host" && v.Type != "csi" {
				add("group %q: volume %q has type %q, want host or csi", gname, v.Name, v.Type)
			}
			if v.Source == "" {
				add("group %q: volume %q has no source", gname, v.Name)
			}
		}
		checkServices := func(where string, svcs []*api.Service) {
			for _, s := range svcs {
				if s.Name == "" {
					add("%s: a service has no name", where)
				}
				if s.PortLabel != "" && !slices.Contains(ports, s.PortLabel) {
					add("%s: service %q uses port %q, which the group's network does not define", where, s.Name, s.PortLabel)
				}
				for _, c := range s.Checks {
					if c.Type != "http" && c.Type != "tcp" {
						add("%s: service %q check %q: type %q is not a Nomad-native check (http or tcp)", where, s.Name, c.Name, c.Type)
					}
					if c.Interval <= 0 || c.Timeout <= 0 {
						add("%s: service %q check %q needs an interval and a timeout", where, s.Name, c.Name)
					}
					if c.Type == "http" && c.Path == "" {
						add("%s: service %q check %q: an http check needs a path", where, s.Name, c.Name)
					}
				}
			}
		}
		checkServices(fmt.Sprintf("group %q", gname), g.Services)
		tasks := map[string]bool{}
		for ti, t := range g.Tasks {
			where := fmt.Sprintf("group %q task %q", gname, t.Name)
			if t.Name == "" {
				add("group %q task %d has no name", gname, ti+1)
			}
			if tasks[t.Name] {
				add("%s is defined twice", where)
			}
			tasks[t.Name] = true
			if t.Driver == "" {
				add("%s: missing driver", where)
			}
			if len(t.Config) == 0 {
				add("%s: missing driver config", where)
			}
			if t.KillTimeout != nil && *t.KillTimeout < 0 {
				add("%s: kill_timeout is negative", where)
			}
			if t.Lifecycle != nil && t.Lifecycle.Hook != "prestart" && t.Lifecycle.Hook != "poststart" && t.Lifecycle.Hook != "poststop" {
				add("%s: lifecycle hook %q: want prestart, poststart or poststop", where, t.Lifecycle.Hook)
			}
			for _, tp := range t.Templates {
				if deref(tp.DestPath) == "" {
					add("%s: a template has no destination", where)
				}
				if deref(tp.EmbeddedTmpl) == "" && deref(tp.SourcePath) == "" {
					add("%s: a template has neither data nor source", where)
				}
			}
			for _, vm := range t.VolumeMounts {
				if g.Volumes[deref(vm.Volume)] == nil {
					add("%s: volume_mount of undeclared volume %q", where, deref(vm.Volume))
				}
			}
			if r := t.Resources; r != nil {
				for _, d := range r.Devices {
					if d.Name == "" {
						add("%s: a device has no name", where)
					}
					if d.Count != nil && *d.Count == 0 {
						add("%s: device %q count is 0", where, d.Name)
					}
				}
				if r.MemoryMB != nil && *r.MemoryMB < 10 {
					add("%s: memory %d MB is below Nomad's minimum of 10", where, *r.MemoryMB)
				}
			}
			checkServices(where, t.Services)
		}
	}
	return problems(p)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
