package httpapi

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// openapiDoc is the OpenAPI 3.1 description of the routes. It is written by
// hand, as the contract; a test checks it against the route table.
//
//go:embed openapi.json
var openapiDoc []byte

func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

func (s *Server) readyz(c *gin.Context) {
	if s.opts.Ready != nil {
		if err := s.opts.Ready(); err != nil {
			s.fail(c, ErrNotReady)
			return
		}
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}

// keyVersion answers the vault's current KEK version (the console's Health
// page shows it).
func (s *Server) keyVersion(c *gin.Context) {
	if s.opts.KEKVersion == nil {
		s.fail(c, ErrNotImplemented)
		return
	}
	c.JSON(http.StatusOK, gin.H{"kekVersion": s.opts.KEKVersion()})
}

func (s *Server) metricsHandler() gin.HandlerFunc {
	h := promhttp.HandlerFor(s.opts.Registry, promhttp.HandlerOpts{Registry: s.opts.Registry})
	return gin.WrapH(h)
}

func (s *Server) openapi(c *gin.Context) {
	c.Data(http.StatusOK, "application/json", openapiDoc)
}
