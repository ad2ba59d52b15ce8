package config

import "testing"

func TestUISetting(t *testing.T) {
	env := func(string) string { return "" }
	for _, tt := range []struct {
		flag, want string
		ok         bool
	}{{"", "true", true}, {"false", "false", true}, {"true", "true", true}, {"off", "", false}} {
		flags := map[string]string{}
		if tt.flag != "" {
			flags["ui"] = tt.flag
		}
		c, err := Load(Sources{Getenv: env, Flags: flags, Dev: true})
		if (err == nil) != tt.ok || (tt.ok && c.UI != tt.want) {
			t.Errorf("Load(--ui=%q) = %q, %v; want %q, ok %v", tt.flag, c.UI, err, tt.want, tt.ok)
		}
	}
}
