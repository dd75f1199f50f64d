package cluster

import (
	"sort"
	"strings"
)

// Placement decides which member owns a grain. The contract:
//
//  1. Rank(kind, identity, members) orders the members that serve kind by
//     rendezvous (highest-random-weight) score of (kind, identity, member
//     name), ties broken by name. Member names are stable across restarts,
//     so a restarted node owns what it owned before.
//  2. A region hint — an identity ending in ".<region>" — puts the members
//     of that region first (each group in rendezvous order), when the
//     region has at least one member; otherwise the hint is ignored.
//  3. Lookup(k) == Rank(k)[0] and LookupN(k, n) == Rank(k)[:n].
//  4. The result depends only on the member set, so every node with the
//     same view of the membership places every grain on the same member,
//     and a change of membership moves only the grains whose top-ranked
//     member joined or left (about 1/N of them).

// RegionOf returns the region hint of an identity ("" if none).
func RegionOf(identity string) string {
	i := strings.LastIndexByte(identity, '.')
	if i < 0 || i == len(identity)-1 {
		return ""
	}
	return identity[i+1:]
}

// score is the rendezvous weight of a member for a grain.
func score(kind, identity, member string) uint64 {
	// FNV-1a over kind, 0, identity, 0, member (inlined: no allocation).
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for _, part := range [...]string{kind, "\x00", identity, "\x00", member} {
		for i := 0; i < len(part); i++ {
			h ^= uint64(part[i])
			h *= prime
		}
	}
	// splitmix64 finaliser: FNV's low bits are weak for similar inputs.
	z := h + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func serves(m NodeMeta, kind string) bool {
	for _, k := range m.Kinds {
		if k == kind {
			return true
		}
	}
	return false
}

// Rank orders the members serving kind for (kind, identity); see the
// contract above. It does not modify members.
func Rank(kind, identity string, members []NodeMeta) []NodeMeta {
	type scored struct {
		m        NodeMeta
		inRegion bool
		s        uint64
	}
	region := RegionOf(identity)
	var out []scored
	regionHasMember := false
	for _, m := range members {
		if !serves(m, kind) {
			continue
		}
		in := region != "" && m.Region == region
		regionHasMember = regionHasMember || in
		out = append(out, scored{m: m, inRegion: in, s: score(kind, identity, m.Name)})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if regionHasMember && a.inRegion != b.inRegion {
			return a.inRegion
		}
		if a.s != b.s {
			return a.s > b.s
		}
		return a.m.Name < b.m.Name
	})
	ranked := make([]NodeMeta, len(out))
	for i, s := range out {
		ranked[i] = s.m
	}
	return ranked
}

// Lookup returns the owner of (kind, identity) among members.
func Lookup(kind, identity string, members []NodeMeta) (NodeMeta, bool) {
	r := LookupN(kind, identity, members, 1)
	if len(r) == 0 {
		return NodeMeta{}, false
	}
	return r[0], true
}

// LookupN returns the first n members of Rank.
func LookupN(kind, identity string, members []NodeMeta, n int) []NodeMeta {
	r := Rank(kind, identity, members)
	if len(r) > n {
		r = r[:n]
	}
	return r
}

// lookupFast is Lookup without allocating: one pass keeping the best
// member. It must agree with Rank(...)[0] (tested).
func lookupFast(kind, identity string, members []NodeMeta) (NodeMeta, bool) {
	region := RegionOf(identity)
	regionHasMember := false
	if region != "" {
		for i := range members {
			if members[i].Region == region && serves(members[i], kind) {
				regionHasMember = true
				break
			}
		}
	}
	best, found := -1, false
	var bestScore uint64
	for i := range members {
		m := &members[i]
		if !serves(*m, kind) || (regionHasMember && m.Region != region) {
			continue
		}
		s := score(kind, identity, m.Name)
		if !found || s > bestScore || (s == bestScore && m.Name < members[best].Name) {
			best, bestScore, found = i, s, true
		}
	}
	if !found {
		return NodeMeta{}, false
	}
	return members[best], true
}
