// Package nomad will own stich's Nomad integration: job specs for stich
// nodes, GPU inference servers and sandboxes, and service discovery through
// github.com/hashicorp/nomad/api. It is empty until that work lands.
//
// Package nomad must not import actors or rpc.
package nomad
