// Package llm owns stich's use of language models: provider and per-action
// model configuration ([Config]), a streaming chat-completions [Client] for
// any OpenAI-compatible endpoint (OpenAI, Anthropic's and Gemini's
// OpenAI-compatible endpoints, Ollama, vLLM, llama.cpp, OpenRouter, or a
// custom URL) built on github.com/sashabaranov/go-openai, token usage and
// cost accounting ([Aggregator]), the prompt templates of every agent
// action ([Render], files under prompts/), the blueprint and phase-plan
// extractors ([ExtractBlueprint], [ExtractPhasePlan]) and [Provider], the [codegen.Provider] that writes
// apps with a model through package editformat.
//
// # Guarantees
//
//  1. API keys never appear in errors, logs, notices or a printed
//     [Config]: a key is held in a [Secret], server messages are scrubbed
//     of it, and an authentication failure reports where the key came
//     from, never its value.
//  2. A call is retried only for transient failures (429, 5xx, timeouts,
//     broken connections): at most [RetryConfig.MaxAttempts] attempts per
//     model, waiting min(BaseDelay·2ⁿ, MaxDelay) or the server's
//     Retry-After. After the budget, or at once on 400/404, the action's
//     fallback model is tried, and the caller is told through
//     [Request.OnNotice]. Authentication errors and cancellation are never
//     retried.
//  3. Cancelling a call's context stops it at once: no delta is delivered
//     after cancellation is observed, the HTTP stream is closed and no
//     goroutine outlives the call.
//  4. An answer cut off by the token limit (finish_reason "length") or a
//     stream that broke after some text is continued: the text so far is
//     sent back as the assistant's message with a request to continue, at
//     most [Config.MaxContinuations] times, and the overlap a model repeats
//     is removed. Deltas the caller received are never taken back.
//  5. Usage is counted for every attempt from the server's usage chunk, or
//     estimated (4 characters per token) when it sends none, and priced
//     from [Config.Prices].
//
// # Concurrency
//
// A [Client] and a [Provider] are safe for concurrent use. A call's
// callbacks (OnDelta, OnNotice) run on the calling goroutine, one at a
// time, and may block (that applies back-pressure to the stream); they must
// not call back into the same call.
//
// Package llm may import codegen, editformat, scaffold and the generated
// protobuf types. It must not import actors, rpc, cluster or cmd; those
// wire it in.
package llm
