package drop

import (
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/vault"
)

// PriceFloor is the least size a submission is priced at: a drop's share of its byte quota
// (the vault's per-owner quota for submissions) per submission it may hold (32 MiB / 4,096 =
// 8 KiB at the default budget), so that filling a drop's count cap with tiny submissions costs
// what filling its bytes would. 0 when the vault sets no such quota.
func (s *Server) PriceFloor() int64 {
	q, ok := s.v.OwnerQuota(vault.KindSubmission)
	if !ok || q <= 0 {
		return 0
	}
	return q / int64(s.cfg.MaxPending)
}

// Level is the price level of a new submission to r: the fullest of the drop's count cap, its
// byte quota, the submissions' quota and the vault (protocol.PriceLevel).
func (s *Server) Level(r Route) int {
	n, _ := s.v.OwnerUsage(vault.KindSubmission, r.str)
	limit := s.cfg.MaxPending
	if r.reply {
		limit = 1
	}
	return protocol.PriceLevel(max(s.v.Load(vault.KindSubmission, r.str).Max(), float64(n)/float64(limit)))
}
