package drop

// CountScans is how many times the fetch counters were scanned for routes to drop.
func CountScans(s *Server) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.countScans
}

// SpentChallenges is how many inbox challenges are remembered as used.
func SpentChallenges(s *Server) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nSpent
}
