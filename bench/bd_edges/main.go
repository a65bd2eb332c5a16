// Command bd_edges adds `blocks` dependencies to a bd 1.1 (embedded Dolt) database in one
// transaction, for bench/bench_bd.py's 10,000-task database.
//
// Why: `bd import` checks every blocks edge for a cycle with a recursive query over the union
// of the dependencies and wisp_dependencies tables (issueops.CheckDependencyCycleInTx), which
// no index serves, so each check reads every dependency row and an import costs O(edges^2):
// most of an hour for 10,000 generated tasks on a 2-core machine, and no bd flag skips it. The
// generated queue is acyclic by construction (every edge points to an earlier task), so the
// bench imports it with its blocks edges left out and then writes those rows here exactly as
// bd import writes them (issueops.PersistDependenciesWithOptionsResult: the same columns, the
// same deterministic id, depid.New), commits, and lets `bd recompute-blocked` set is_blocked.
//
// Input on stdin, one JSON object per line: issue_id, depends_on_id, type, created_by,
// created_at (RFC 3339). Usage: bd_edges BEADS_DIR DATABASE < edges.jsonl
package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	doltembed "github.com/dolthub/driver/v2"
	"github.com/google/uuid"
)

// depid.New in bd (internal/storage/depid)
var namespace = uuid.MustParse("bdd74eb9-a20a-554a-985b-54b8f3e64d8b")

func depID(issueID, target string) string {
	return uuid.NewSHA1(namespace, []byte(issueID+"\x1f"+target)).String()
}

type edge struct {
	IssueID     string `json:"issue_id"`
	DependsOnID string `json:"depends_on_id"`
	Type        string `json:"type"`
	CreatedBy   string `json:"created_by"`
	CreatedAt   string `json:"created_at"`
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: bd_edges BEADS_DIR DATABASE < edges.jsonl")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "bd_edges:", err)
		os.Exit(1)
	}
}

func run(beadsDir, database string) error {
	ctx := context.Background()
	dir, err := filepath.Abs(filepath.Join(beadsDir, "embeddeddolt"))
	if err != nil {
		return err
	}
	// the DSN bd builds (embeddeddolt.buildDSN)
	v := url.Values{}
	v.Set(doltembed.CommitNameParam, "beads")
	v.Set(doltembed.CommitEmailParam, "beads@local")
	v.Set(doltembed.MultiStatementsParam, "true")
	v.Set(doltembed.DatabaseParam, database)
	cfg, err := doltembed.ParseDSN("file://" + dir + "?" + v.Encode())
	if err != nil {
		return err
	}
	connector, err := doltembed.NewConnector(cfg)
	if err != nil {
		return err
	}
	defer connector.Close()
	db := sql.OpenDB(connector)
	defer db.Close()

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO dependencies
		(id, issue_id, depends_on_issue_id, type, created_by, created_at)
		VALUES (?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE type = type`)
	if err != nil {
		return err
	}
	n := 0
	scanner := bufio.NewScanner(os.Stdin)
	scanner.Buffer(make([]byte, 0, 1<<20), 1<<26)
	for scanner.Scan() {
		var e edge
		if err := json.Unmarshal(scanner.Bytes(), &e); err != nil {
			return fmt.Errorf("line %d: %w", n+1, err)
		}
		at, err := time.Parse(time.RFC3339, e.CreatedAt)
		if err != nil {
			return fmt.Errorf("line %d: %w", n+1, err)
		}
		if _, err := stmt.ExecContext(ctx, depID(e.IssueID, e.DependsOnID), e.IssueID,
			e.DependsOnID, e.Type, e.CreatedBy, at.UTC()); err != nil {
			return fmt.Errorf("%s -> %s: %w", e.IssueID, e.DependsOnID, err)
		}
		n++
	}
	if err := scanner.Err(); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "CALL DOLT_COMMIT('-Am', ?)",
		fmt.Sprintf("bench: %d dependencies", n)); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	fmt.Println(n)
	return nil
}
