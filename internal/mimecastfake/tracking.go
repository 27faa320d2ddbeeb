package mimecastfake

// routesTracking registers the endpoints of tracking.go (filled in below as they are written).
func (s *Server) routesTracking() {}
