// Command ferretdb runs FerretDB v1.24 through its embeddable package, so the build needs no
// generated build/version/version.txt; the package also disables telemetry itself and never
// starts its reporter. The local stack (infra/local/ferretdb.sh) builds and runs it.
// Configuration by flags or environment:
//
//	FERRETDB_LISTEN_ADDR   (default 127.0.0.1:27017)
//	FERRETDB_HANDLER       sqlite|postgresql (default sqlite)
//	FERRETDB_SQLITE_URL    e.g. file:/var/lib/ferretdb/ (default file:data/)
//	FERRETDB_POSTGRESQL_URL e.g. postgres://user@127.0.0.1:5432/ferretdb
//	FERRETDB_LOG_LEVEL     debug|info|warn|error (default info)
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func env(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

func main() {
	listen := flag.String("listen-addr", env("FERRETDB_LISTEN_ADDR", "127.0.0.1:27017"), "TCP listen address")
	handler := flag.String("handler", env("FERRETDB_HANDLER", "sqlite"), "backend: sqlite or postgresql")
	sqliteURL := flag.String("sqlite-url", env("FERRETDB_SQLITE_URL", "file:data/"), "SQLite URI (directory, must end with /)")
	pgURL := flag.String("postgresql-url", env("FERRETDB_POSTGRESQL_URL", "postgres://127.0.0.1:5432/ferretdb"), "PostgreSQL URL")
	logLevel := flag.String("log-level", env("FERRETDB_LOG_LEVEL", "info"), "debug|info|warn|error")
	flag.Parse()

	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "bad log level %q: %v\n", *logLevel, err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	slog.SetDefault(logger)

	cfg := &ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: *listen},
		Logger:   logger,
		Handler:  *handler,
	}

	switch *handler {
	case "sqlite":
		// FerretDB wants a directory URI ending with '/' (before any ?_pragma=...); create the
		// directory.
		u, query, _ := strings.Cut(*sqliteURL, "?")
		if !strings.HasSuffix(u, "/") {
			u += "/"
		}
		dir := strings.TrimPrefix(u, "file:")
		if query != "" {
			u += "?" + query
		}
		if dir != "" {
			if err := os.MkdirAll(filepath.Clean(dir), 0o755); err != nil {
				logger.Error("cannot create sqlite dir", "dir", dir, "err", err)
				os.Exit(1)
			}
		}
		cfg.SQLiteURL = u
	case "postgresql":
		cfg.PostgreSQLURL = *pgURL
	default:
		fmt.Fprintf(os.Stderr, "unknown handler %q (want sqlite|postgresql)\n", *handler)
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	start := time.Now()
	f, err := ferretdb.New(cfg)
	if err != nil {
		logger.Error("ferretdb.New failed", "err", err)
		os.Exit(1)
	}

	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()

	// Wait until the TCP listener accepts connections, then announce readiness.
	go func() {
		for ctx.Err() == nil {
			c, err := net.DialTimeout("tcp", *listen, 200*time.Millisecond)
			if err == nil {
				c.Close()
				logger.Info("ferretdb ready", "uri", f.MongoDBURI(), "handler", *handler, "startup", time.Since(start).String())
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()

	if err := <-done; err != nil {
		logger.Error("ferretdb stopped with error", "err", err)
		os.Exit(1)
	}
	logger.Info("ferretdb stopped")
}
