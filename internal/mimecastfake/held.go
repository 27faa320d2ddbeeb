package mimecastfake

// routesHeld registers the endpoints of held.go (filled in below as they are written).
func (s *Server) routesHeld() {}
