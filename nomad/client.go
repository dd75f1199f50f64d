package nomad

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"
)

// Errors a [Client] wraps, so callers (the CLI) can say what to do.
var (
	// ErrACL: the server refused the token (403).
	ErrACL = errors.New("nomad: the ACL token was refused")
	// ErrUnreachable: no answer from the address.
	ErrUnreachable = errors.New("nomad: cannot reach the Nomad API")
	// ErrNotFound: no such job, allocation or evaluation.
	ErrNotFound = errors.New("nomad: not found")
	// ErrPlacement: the scheduler could not place every allocation.
	ErrPlacement = errors.New("nomad: placement failed")
	// ErrRefused: the server refused the request (400: validation).
	ErrRefused = errors.New("nomad: request refused")
)

// ClientConfig says how to reach Nomad.
type ClientConfig struct {
	// Address is the HTTP API root, e.g. http://127.0.0.1:4646 (NOMAD_ADDR).
	Address string
	// Token is the ACL secret id (NOMAD_TOKEN); empty when ACLs are off.
	Token string
	// Region and Namespace default to the agent's and "default".
	Region, Namespace string
}

// Client talks to Nomad through nomad/api and turns its errors into the
// errors above. It is safe for concurrent use.
type Client struct {
	api *api.Client
	cfg ClientConfig
}

// NewClient checks cfg and returns a client; it does not contact Nomad.
func NewClient(cfg ClientConfig) (*Client, error) {
	u, err := url.Parse(cfg.Address)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("nomad: address %q: want http(s)://host:port (NOMAD_ADDR)", cfg.Address)
	}
	c, err := api.NewClient(&api.Config{Address: cfg.Address, SecretID: cfg.Token, Region: cfg.Region, Namespace: cfg.Namespace})
	if err != nil {
		return nil, fmt.Errorf("nomad: %w", err)
	}
	return &Client{api: c, cfg: cfg}, nil
}

// API returns the underlying nomad/api client.
func (c *Client) API() *api.Client { return c.api }

// translate wraps a nomad/api error in one of the package's errors.
func (c *Client) translate(op string, err error) error {
	if err == nil {
		return nil
	}
	var ure api.UnexpectedResponseError
	if errors.As(err, &ure) {
		body := strings.TrimSpace(ure.Body())
		switch ure.StatusCode() {
		case 403:
			hint := "set NOMAD_TOKEN (or --nomad-token) to a token whose policy allows this"
			if c.cfg.Token == "" {
				hint = "ACLs are on and no token was given: set NOMAD_TOKEN (or --nomad-token)"
			}
			return fmt.Errorf("%w: %s (%s): %s", ErrACL, op, body, hint)
		case 404:
			return fmt.Errorf("%w: %s: %s", ErrNotFound, op, body)
		case 400:
			return fmt.Errorf("%w: %s: %s", ErrRefused, op, body)
		}
		return fmt.Errorf("nomad: %s: %w", op, err)
	}
	var ne net.Error
	var ue *url.Error
	if errors.As(err, &ne) || errors.As(err, &ue) {
		return fmt.Errorf("%w at %s: %s: %w", ErrUnreachable, c.cfg.Address, op, err)
	}
	return fmt.Errorf("nomad: %s: %w", op, err)
}

// PlanResult is what a registration would do.
type PlanResult struct {
	// Diff is Added, Edited, Deleted or None.
	Diff string
	// Groups maps each group to its place/stop/update counts.
	Groups map[string]*api.DesiredUpdates
	// Failures explains groups that could not be placed.
	Failures []string
	// JobModifyIndex guards a later apply (nomad job run -check-index).
	JobModifyIndex uint64
}

// Plan asks the scheduler what registering job would do, without doing it.
func (c *Client) Plan(ctx context.Context, job *api.Job) (*PlanResult, error) {
	resp, _, err := c.api.Jobs().Plan(job, true, (&api.WriteOptions{}).WithContext(ctx))
	if err != nil {
		return nil, c.translate("plan job "+deref(job.ID), err)
	}
	pr := &PlanResult{JobModifyIndex: resp.JobModifyIndex, Groups: map[string]*api.DesiredUpdates{}}
	if resp.Diff != nil {
		pr.Diff = resp.Diff.Type
	}
	if resp.Annotations != nil {
		pr.Groups = resp.Annotations.DesiredTGUpdates
	}
	pr.Failures = describeFailures(resp.FailedTGAllocs)
	return pr, nil
}

// describeFailures turns scheduler metrics into lines a person can act on.
func describeFailures(failed map[string]*api.AllocationMetric) []string {
	var out []string
	for group, m := range failed {
		var why []string
		for reason, n := range m.ConstraintFiltered {
			why = append(why, fmt.Sprintf("constraint %q filtered %d node(s)", reason, n))
		}
		for dim, n := range m.DimensionExhausted {
			why = append(why, fmt.Sprintf("resources exhausted on %d node(s): %s", n, dim))
		}
		if m.NodesEvaluated == 0 {
			why = append(why, "no nodes were eligible for evaluation")
		}
		sort.Strings(why)
		line := fmt.Sprintf("group %q: %s", group, strings.Join(why, "; "))
		if strings.Contains(line, "missing devices") {
			line += " (no client has the requested GPU: check `nomad node status -verbose` for nvidia/gpu devices and their memory)"
		}
		if strings.Contains(line, "missing drivers") {
			line += " (no client has the task driver enabled)"
		}
		out = append(out, line)
	}
	sort.Strings(out)
	return out
}

// Apply registers job and waits (until ctx ends) for its evaluation: an
// error wrapping [ErrPlacement] lists why groups could not be placed.
func (c *Client) Apply(ctx context.Context, job *api.Job) (evalID string, err error) {
	resp, _, err := c.api.Jobs().Register(job, (&api.WriteOptions{}).WithContext(ctx))
	if err != nil {
		return "", c.translate("register job "+deref(job.ID), err)
	}
	if resp.EvalID == "" { // periodic and parameterized jobs have no evaluation
		return "", nil
	}
	return resp.EvalID, c.WaitEval(ctx, resp.EvalID)
}

// Scale sets a group's count and waits for the evaluation.
func (c *Client) Scale(ctx context.Context, jobID, group string, count int, reason string) error {
	resp, _, err := c.api.Jobs().Scale(jobID, group, &count, reason, false, nil, (&api.WriteOptions{}).WithContext(ctx))
	if err != nil {
		return c.translate("scale job "+jobID, err)
	}
	return c.WaitEval(ctx, resp.EvalID)
}

// WaitEval waits for an evaluation to complete and reports its placement
// failures.
func (c *Client) WaitEval(ctx context.Context, evalID string) error {
	var index uint64
	for {
		ev, qm, err := c.api.Evaluations().Info(evalID, (&api.QueryOptions{WaitIndex: index, WaitTime: 10 * time.Second}).WithContext(ctx))
		if err != nil {
			return c.translate("evaluation "+evalID, err)
		}
		switch ev.Status {
		case "complete":
			if f := describeFailures(ev.FailedTGAllocs); len(f) > 0 {
				return fmt.Errorf("%w: %s", ErrPlacement, strings.Join(f, "; "))
			}
			return nil
		case "failed", "canceled":
			return fmt.Errorf("nomad: evaluation %s %s: %s", evalID, ev.Status, ev.StatusDescription)
		}
		index = qm.LastIndex
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// JobStatus is a job and its allocations.
type JobStatus struct {
	Job    *api.Job
	Allocs []*api.AllocationListStub
}

// Status reads a job and its current allocations.
func (c *Client) Status(ctx context.Context, jobID string) (*JobStatus, error) {
	q := (&api.QueryOptions{}).WithContext(ctx)
	job, _, err := c.api.Jobs().Info(jobID, q)
	if err != nil {
		return nil, c.translate("job "+jobID, err)
	}
	allocs, _, err := c.api.Jobs().Allocations(jobID, false, q)
	if err != nil {
		return nil, c.translate("allocations of "+jobID, err)
	}
	sort.Slice(allocs, func(i, j int) bool { return allocs[i].Name < allocs[j].Name })
	return &JobStatus{Job: job, Allocs: allocs}, nil
}
