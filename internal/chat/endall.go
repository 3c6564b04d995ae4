package chat

// EndAll ends every chat at once and wipes their records: the operator's panic wipe. Both
// sides of each chat are told it ended; the server keeps accepting new chats.
func (s *Server) EndAll() {
	s.mu.Lock()
	var wipe []frame
	for _, c := range s.chats {
		wipe = append(wipe, s.endLocked(c, ReasonRevoked)...)
	}
	s.mu.Unlock()
	s.wipe(wipe)
}
