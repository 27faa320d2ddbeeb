package mimecastfake

// routesThreats registers the endpoints of threats.go (filled in below as they are written).
func (s *Server) routesThreats() {}
