package mimecastfake

// routesTTP registers the endpoints of ttp.go (filled in below as they are written).
func (s *Server) routesTTP() {}
