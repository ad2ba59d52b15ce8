package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/piivault/piivault/internal/config"
	"github.com/piivault/piivault/policy"
	"github.com/piivault/piivault/sdk"
)

// Client-side settings of the commands that talk to a running sidecar.
const (
	envAddr    = "PIIVAULT_ADDR"
	envToken   = "PIIVAULT_TOKEN"
	defaultURL = "http://127.0.0.1:8200"
)

// serverFlags are the config flags shared by serve and the offline
// commands; their names are the config package's.
type serverFlags struct {
	configFile string
	dev        bool
}

func addServerFlags(fs *flag.FlagSet, sf *serverFlags, all bool) {
	fs.StringVar(&sf.configFile, "config", "", "YAML config file (env "+config.EnvConfig+")")
	for _, s := range config.Settings {
		if s.Flag == "" {
			continue
		}
		if !all && s.Flag != "data" && s.Flag != "tokens-file" && s.Flag != "log-level" {
			continue
		}
		src := fmt.Sprintf("env %s, key %s", s.Env, s.Key)
		if d := s.Default(); d != "" {
			src = "default " + d + "; " + src
		}
		fs.String(s.Flag, "", fmt.Sprintf("%s (%s)", s.Help, src))
	}
}

func loadConfig(e *env, fs *flag.FlagSet, sf serverFlags) (config.Config, error) {
	flags := set(fs)
	delete(flags, "config")
	delete(flags, "dev")
	for k := range flags { // flags of other commands that are not settings
		if !isSetting(k) {
			delete(flags, k)
		}
	}
	return config.Load(config.Sources{Getenv: e.getenv, ConfigFile: sf.configFile, Flags: flags, Dev: sf.dev})
}

func isSetting(flagName string) bool {
	for _, s := range config.Settings {
		if s.Flag == flagName {
			return true
		}
	}
	return false
}

// clientFlags are the flags of commands that call a running sidecar.
type clientFlags struct{ addr, token string }

func addClientFlags(fs *flag.FlagSet, cf *clientFlags) {
	fs.StringVar(&cf.addr, "addr", "", "sidecar URL (env "+envAddr+", default "+defaultURL+")")
	fs.StringVar(&cf.token, "token", "", "bearer token (env "+envToken+")")
}

func (cf clientFlags) client(e *env) (*sdk.Client, error) {
	addr := firstNonEmpty(cf.addr, e.getenv(envAddr), defaultURL)
	tok := firstNonEmpty(cf.token, e.getenv(envToken))
	if tok == "" {
		return nil, usagef("no bearer token: pass --token or set %s", envToken)
	}
	return sdk.New(addr, sdk.WithToken(tok), sdk.WithUserAgent("piivault-cli/"+version))
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func runTokenCreate(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "token create", "--principal ID [--roles a,b] [--attr k=v]",
		"Creates a random bearer token for a principal, prints it once on stdout, and\n"+
			"adds only its SHA-256 digest to the tokens file (default <data>/tokens.yaml).\n"+
			"A running sidecar picks the change up within a second (it watches the tokens\n"+
			"file's folder; SIGHUP forces a reload): no restart is needed.")
	var sf serverFlags
	addServerFlags(fs, &sf, false)
	principal := fs.String("principal", "", "principal ID the token stands for (required)")
	var roles, attrs listFlag
	fs.Var(&roles, "roles", "roles, comma separated or repeated, e.g. support,billing")
	fs.Var(&attrs, "attr", "attribute key=value for the policy, repeatable")
	force := fs.Bool("force", false, "accept roles the running policy does not name (a policy that grants by attribute)")
	wait := fs.Bool("wait", false, "wait (up to 10 s) until the sidecar at --addr / "+envAddr+" accepts the new token")
	addr := fs.String("addr", "", "sidecar URL for --wait (env "+envAddr+", default "+defaultURL+")")
	if err := noArgs(fs, args, "token create"); err != nil {
		return helpOK(err)
	}
	if *principal == "" {
		return usagef("token create: --principal is required")
	}
	if len(roles) == 0 && !*force {
		return usagef("token create: --roles is required (a token without roles is refused every call); --force to create one anyway")
	}
	am := map[string]string{}
	for _, a := range attrs {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return usagef("token create: --attr %q: want key=value", a)
		}
		am[k] = v
	}
	if len(am) == 0 {
		am = nil
	}
	cfg, err := loadConfig(e, fs, sf)
	if err != nil {
		return err
	}
	if err := checkRoles(ctx, e, cfg, roles, *force); err != nil {
		return err
	}
	tok, err := config.AppendToken(cfg.TokensFile, *principal, roles, am)
	if err != nil {
		return fmt.Errorf("token create: %w", err)
	}
	fmt.Fprintln(e.stdout, tok)
	fmt.Fprintf(e.stderr, "piivault: token for %s (roles %s) added to %s as a SHA-256 digest; this is the only time it is shown\n",
		*principal, strings.Join(roles, ","), cfg.TokensFile)
	if *wait {
		return waitForToken(ctx, e, *addr, tok)
	}
	return nil
}

// checkRoles refuses role names the policy (shipped default, policy.dir,
// policy.bundle, as the sidecar loads them) does not name in its
// known_roles rule: a misspelt role grants nothing, silently.
func checkRoles(ctx context.Context, e *env, cfg config.Config, roles []string, force bool) error {
	popts := policy.DefaultOptions()
	popts.PolicyDir, popts.BundlePath, popts.ReplaceDefault = cfg.PolicyDir, cfg.PolicyBundle, cfg.PolicyReplaceDefault
	pol, err := policy.New(ctx, popts)
	if err != nil {
		return fmt.Errorf("token create: load policy: %w", err)
	}
	defer pol.Close()
	known, ok, err := pol.KnownRoles(ctx)
	if err != nil {
		return fmt.Errorf("token create: %w", err)
	}
	if !ok {
		fmt.Fprintln(e.stderr, "piivault: warning: the policy does not list its roles (data.piivault.authz.known_roles); role names not checked")
		return nil
	}
	for _, r := range roles {
		if !slices.Contains(known, r) && !force {
			return fmt.Errorf("token create: role %q is not known to the policy (it knows %s); --force to create it anyway", r, strings.Join(known, ", "))
		}
	}
	return nil
}

// waitForToken polls the sidecar until it authenticates tok: the sidecar
// reloads the tokens file within about a second of the change.
func waitForToken(ctx context.Context, e *env, addr, tok string) error {
	if addr == "" {
		addr = e.getenv(envAddr)
	}
	if addr == "" {
		addr = defaultURL
	}
	c, err := sdk.New(addr, sdk.WithToken(tok))
	if err != nil {
		return fmt.Errorf("token create: --wait: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		// Any answer but 401 means the token is known; the call's own
		// right (403) does not matter here.
		_, err := c.ListSchemas(ctx)
		if err == nil || !errors.Is(err, sdk.ErrUnauthenticated) {
			var apiErr *sdk.APIError
			if err == nil || errors.As(err, &apiErr) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("token create: --wait: the sidecar at %s did not accept the token within 10 s (last: %v)", addr, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func runVerify(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "verify", "[--data DIR | --addr URL --token T]",
		"Walks the event log's hash chain from the first event to the head and reports\n"+
			"the head position and hash, or the first break. Without --addr it opens the\n"+
			"data folder directly (the sidecar must be stopped); with --addr it asks a\n"+
			"running sidecar. Exits 1 if the chain is broken.")
	var sf serverFlags
	addServerFlags(fs, &sf, false)
	var cf clientFlags
	addClientFlags(fs, &cf)
	if err := noArgs(fs, args, "verify"); err != nil {
		return helpOK(err)
	}
	var res sdk.VerifyResult
	if cf.addr != "" || e.getenv(envAddr) != "" {
		c, err := cf.client(e)
		if err != nil {
			return err
		}
		if res, err = c.Verify(ctx); err != nil {
			return fmt.Errorf("verify: %w", err)
		}
	} else {
		cfg, err := loadConfig(e, fs, sf)
		if err != nil {
			return err
		}
		if res, err = verifyOffline(ctx, cfg); err != nil {
			return fmt.Errorf("verify: %w", err)
		}
	}
	if !res.OK {
		return fmt.Errorf("verify: hash chain broken at position %d: %s (head %d)", res.BreakAt, res.Reason, res.HeadPosition)
	}
	fmt.Fprintf(e.stdout, "ok: hash chain intact, head position %d, head hash %s\n", res.HeadPosition, res.HeadHash)
	return nil
}

// The file of `schema apply -f` holds one schema, a top-level list of
// schemas, or a mapping with "schemas: [...]"; several YAML documents may
// follow each other.

// yamlSchema mirrors sdk.Schema with YAML names.
type yamlSchema struct {
	EventType string `yaml:"eventType"`
	Subject   string `yaml:"subject"`
	Fields    []struct {
		Path    string `yaml:"path"`
		Class   string `yaml:"class"`
		Subject string `yaml:"subject"`
	} `yaml:"fields"`
	LeakGuard string `yaml:"leakGuard"`
}

func (y yamlSchema) sdk() sdk.Schema {
	s := sdk.Schema{EventType: y.EventType, Subject: y.Subject, LeakGuard: y.LeakGuard, Fields: []sdk.SchemaField{}}
	for _, f := range y.Fields {
		s.Fields = append(s.Fields, sdk.SchemaField{Path: f.Path, Class: f.Class, Subject: f.Subject})
	}
	return s
}

func parseSchemas(r io.Reader) ([]sdk.Schema, error) {
	dec := yaml.NewDecoder(r)
	var out []sdk.Schema
	for doc := 1; ; doc++ {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
		var list []yamlSchema
		if len(n.Content) == 0 {
			continue
		}
		root := n.Content[0]
		if err := checkSchemaKeys(root); err != nil {
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
		switch {
		case root.Kind == yaml.SequenceNode:
			err = root.Decode(&list)
		case root.Kind == yaml.MappingNode && hasKey(root, "schemas"):
			var f struct {
				Schemas []yamlSchema `yaml:"schemas"`
			}
			err = root.Decode(&f)
			list = f.Schemas
		case root.Kind == yaml.MappingNode:
			var one yamlSchema
			err = root.Decode(&one)
			list = []yamlSchema{one}
		default:
			err = fmt.Errorf("line %d: want a schema, a list of schemas, or schemas: [...]", root.Line)
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
		for i, y := range list {
			if y.EventType == "" {
				return nil, fmt.Errorf("document %d, schema %d: eventType is required", doc, i+1)
			}
			out = append(out, y.sdk())
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no schema in the file")
	}
	return out, nil
}

// Keys a schema file may use; any other key is a mistake (a misspelt
// "feilds:" would otherwise apply a schema with no personal-data fields).
var (
	schemaFileKeys  = []string{"schemas"}
	schemaKeys      = []string{"eventType", "subject", "fields", "leakGuard"}
	schemaFieldKeys = []string{"path", "class", "subject"}
)

// checkSchemaKeys refuses unknown keys anywhere in a schema document, naming
// the key and its line.
func checkSchemaKeys(root *yaml.Node) error {
	schema := func(n *yaml.Node) error {
		if err := knownKeys(n, schemaKeys, "schema"); err != nil {
			return err
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "fields" && n.Content[i+1].Kind == yaml.SequenceNode {
				for _, f := range n.Content[i+1].Content {
					if err := knownKeys(f, schemaFieldKeys, "field"); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	list := func(n *yaml.Node) error {
		if n.Kind != yaml.SequenceNode {
			return nil
		}
		for _, s := range n.Content {
			if err := schema(s); err != nil {
				return err
			}
		}
		return nil
	}
	switch {
	case root.Kind == yaml.SequenceNode:
		return list(root)
	case root.Kind == yaml.MappingNode && hasKey(root, "schemas"):
		if err := knownKeys(root, schemaFileKeys, "schema file"); err != nil {
			return err
		}
		for i := 0; i+1 < len(root.Content); i += 2 {
			if err := list(root.Content[i+1]); err != nil {
				return err
			}
		}
		return nil
	case root.Kind == yaml.MappingNode:
		return schema(root)
	}
	return nil
}

// knownKeys refuses a key of mapping n that is not in allowed.
func knownKeys(n *yaml.Node, allowed []string, what string) error {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if !slices.Contains(allowed, k.Value) {
			return fmt.Errorf("line %d: unknown %s key %q (want one of %s)", k.Line, what, k.Value, strings.Join(allowed, ", "))
		}
	}
	return nil
}

func hasKey(m *yaml.Node, key string) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return true
		}
	}
	return false
}

func runSchemaApply(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "schema apply", "-f FILE [--addr URL] [--token T]",
		"Declares which JSON pointers of each event type are personal data, on a\n"+
			"running sidecar (the token needs the admin role, or the dev root token).\n"+
			"FILE ('-' for stdin) holds one schema, a list, or `schemas: [...]`:\n\n"+
			"  schemas:\n"+
			"    - eventType: CustomerRegistered\n"+
			"      subject: /customerId\n"+
			"      fields:\n"+
			"        - {path: /email, class: email}\n"+
			"        - {path: /addresses/*/street, class: address}")
	file := fs.String("f", "", "schema file, YAML or JSON ('-' for stdin) (required)")
	var cf clientFlags
	addClientFlags(fs, &cf)
	if err := parse(fs, args); err != nil {
		return helpOK(err)
	}
	if *file == "" {
		return usagef("schema apply: -f FILE is required")
	}
	var r io.Reader = os.Stdin
	if *file != "-" {
		f, err := os.Open(*file)
		if err != nil {
			return fmt.Errorf("schema apply: %w", err)
		}
		defer f.Close()
		r = f
	}
	schemas, err := parseSchemas(r)
	if err != nil {
		return fmt.Errorf("schema apply: %s: %w", *file, err)
	}
	c, err := cf.client(e)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, s := range schemas {
		got, err := c.PutSchema(ctx, s.EventType, s)
		if err != nil {
			return fmt.Errorf("schema apply: %s: %w", s.EventType, err)
		}
		fmt.Fprintf(e.stdout, "applied %s (version %d, %d PII fields)\n", s.EventType, got.Version, len(s.Fields))
	}
	return nil
}
