package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"slipstream/flight"
)

const tokenUsage = `usage:
  slipstream token create --name NAME --role reader|writer|admin [--expires 720h] [--auth FILE]
  slipstream token list [--auth FILE]
  slipstream token revoke --name NAME [--auth FILE]

create prints the new token once, on stdout; only its hash is kept in the
file (default tokens.toml, mode 0600). A node serving with --auth FILE
re-reads it within a second of a change: a revoked token is refused from
then on, without a restart.
`

// token manages the tokens file of `serve --auth`.
func token(args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(os.Stderr, tokenUsage)
		return nil
	}
	verb := args[0]
	fs := flag.NewFlagSet("token "+verb, flag.ContinueOnError)
	file := fs.String("auth", "tokens.toml", "the tokens `FILE` (serve --auth)")
	name := fs.String("name", "", "the token's name: the user name of a Basic handshake, and what logs and errors call it")
	role := fs.String("role", "", "reader (queries, status, lists), writer (also uploads and drops) or admin (also node-to-node work)")
	expires := fs.String("expires", "", "how long the token is good for, such as 720h or 30d (default: until revoked)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q\n\n%s", fs.Args(), tokenUsage)
	}
	now := time.Now()
	switch verb {
	case "create":
		if *name == "" || *role == "" {
			return fmt.Errorf("create needs --name and --role\n\n%s", tokenUsage)
		}
		r, err := flight.ParseRole(*role)
		if err != nil {
			return fmt.Errorf("--role: %w", err)
		}
		life, err := parseLife(*expires)
		if err != nil {
			return err
		}
		tok, err := flight.CreateToken(*file, *name, r, life, now)
		if err != nil {
			return err
		}
		fmt.Println(tok)
		when := "never expires"
		if life > 0 {
			when = "expires " + now.Add(life).UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(os.Stderr, "token %q (role %s, %s) added to %s; it is shown only this once\n", *name, r, when, *file)
		return nil
	case "list":
		f, err := flight.ReadTokens(*file)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "NAME\tROLE\tCREATED\tEXPIRES\tSTATE")
		for _, e := range f.Tokens {
			exp, state := "never", "valid"
			if !e.Expires.IsZero() {
				exp = e.Expires.Format(time.RFC3339)
				if !now.Before(e.Expires) {
					state = "expired"
				}
			}
			if !e.Revoked.IsZero() {
				state = "revoked " + e.Revoked.Format(time.RFC3339)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", e.Name, e.Role, e.Created.Format(time.RFC3339), exp, state)
		}
		return w.Flush()
	case "revoke":
		if *name == "" {
			return fmt.Errorf("revoke needs --name\n\n%s", tokenUsage)
		}
		if err := flight.RevokeToken(*file, *name, now); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "token %q revoked in %s; nodes refuse it within a second\n", *name, *file)
		return nil
	}
	return fmt.Errorf("unknown token command %q\n\n%s", verb, tokenUsage)
}

// parseLife reads a Go duration or a number of days ("30d"); "" is 0.
func parseLife(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err == nil && n > 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("--expires %q: want a positive duration such as 720h, 90m or 30d", s)
	}
	return d, nil
}
