package envelope

import "github.com/chatbridge/chatbridge/internal/dialect"

// FromProfile returns the Dialect a profile describes (nil: the default wire). tokenIn is the
// token placement in effect (the profile's, or the flag's that overrides it): with
// dialect.TokenInConnect the token goes into the connect frame's payload, in the field that
// token.name names (default "token").
func FromProfile(p *dialect.Profile, tokenIn string) (*Dialect, error) {
	if p == nil {
		p = &dialect.Profile{}
	}
	if err := p.CheckSections(dialect.DialectEnvelope); err != nil {
		return nil, err
	}
	cfg := Config{
		TypePath:    p.TypePath,
		PayloadPath: p.PayloadPath,
		Flat:        p.PayloadSet && len(p.PayloadPath) == 0,
		NDJSON:      p.Framing == dialect.FramingNDJSON,
		Mapper:      dialect.NewMapper(p.Mapper),
		Outbound:    p.Outbound,
		Connect:     p.Connect,
	}
	if tokenIn == dialect.TokenInConnect {
		cfg.ConnectToken = p.TokenName
		if cfg.ConnectToken == "" {
			cfg.ConnectToken = "token"
		}
	}
	return New(cfg), nil
}
