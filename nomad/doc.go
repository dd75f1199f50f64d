// Package nomad owns stich's Nomad integration, through the
// github.com/hashicorp/nomad/api client only (never the Nomad server
// module):
//
//   - job specs built as nomad/api structs from small config structs:
//     [StichJob] (the nodes), [InferenceJob] (vLLM or Ollama on GPU
//     clients) and [SandboxJob] (the parameterized build job); each config
//     has a Validate that reports every problem at once, and [CheckJob]
//     refuses what `nomad job validate` would;
//   - [RenderHCL], which writes a job as the HCL file an operator reads and
//     `nomad job run` accepts (the files under deploy/nomad are its output,
//     kept current by a golden test);
//   - [Client]: plan, apply, scale and status, with errors an operator can
//     act on ([ErrACL], [ErrUnreachable], [ErrPlacement] with the
//     scheduler's reasons, such as "missing devices");
//   - discovery of model servers: [Client.WatchModelServers] follows the
//     service catalogue with blocking queries and the allocations' check
//     results, and [Backends] hands the result to the model router of
//     package llm;
//   - [BuildRunner], the Nomad sandbox runner (stich serve --sandbox
//     nomad): each app check is a dispatch of the sandbox job whose task
//     (`stich sandbox-build`) fetches the app and uploads its report
//     through signed, single-use, expiring URLs served by the node, with
//     its output followed through the alloc logs API.
//
// # Guarantees
//
//  1. A node's name and data folder follow its allocation slot
//     (NOMAD_ALLOC_INDEX), so a replaced allocation is the same node.
//  2. The stich job's kill_timeout exceeds the node's --shutdown-grace, so
//     Nomad's SIGKILL never cuts a graceful hand-off short.
//  3. A model server is reported failing as soon as one of its Nomad
//     checks fails, at the latest one blocking-query wait after the check
//     result; a registration change is reported within one blocking-query
//     round trip.
//  4. A build URL is good once, for its purpose (workspace or result),
//     its session and build, until its expiry: an HMAC-SHA256 over all
//     four, checked before the single use is spent; anything else is 403.
//  5. A check through the BuildRunner ends, whatever Nomad does: a
//     placement failure or a lost allocation is dispatched again once,
//     then reported with the scheduler's reasons; each attempt is bounded
//     by its timeout, and a child job left behind is deregistered.
//
// # Concurrency
//
// A [Client] is safe for concurrent use. WatchModelServers calls its
// callback on the calling goroutine, one call at a time.
//
// A [BuildRunner] is safe for concurrent use: one Check per session at a
// time is what the sandbox grain does, many sessions at once are fine.
//
// Package nomad may import llm (for the router's types) and appbuild (the
// build request and report a BuildRunner carries). It must not import
// actors, rpc, cluster or cmd. Its in-process fake of the Nomad HTTP API is
// package nomad/nomadtest.
package nomad
