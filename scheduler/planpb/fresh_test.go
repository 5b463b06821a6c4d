package planpb

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGeneratedCodeIsFresh regenerates the Go and Python code from
// plan.proto and compares it with what is committed. It needs the
// project's Python environment (grpcio-tools) and protoc-gen-go on PATH,
// as `make test` provides; elsewhere it skips, except under CI.
func TestGeneratedCodeIsFresh(t *testing.T) {
	root, _ := filepath.Abs("../..")
	python := os.Getenv("SLIPSTREAM_PYTHON")
	if python == "" {
		python = filepath.Join(root, ".venv", "bin", "python")
	}
	_, errPy := os.Stat(python)
	_, errGen := exec.LookPath("protoc-gen-go")
	if errPy != nil || errGen != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must run this check: python at %s (%v), protoc-gen-go (%v)", python, errPy, errGen)
		}
		t.Skip("needs the project's .venv and protoc-gen-go; run `make test`")
	}
	goOut, pyOut := t.TempDir(), t.TempDir()
	cmd := exec.Command(filepath.Join(root, "scripts", "genproto.sh"), goOut, pyOut)
	cmd.Env = append(os.Environ(), "PYTHON="+python)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("genproto.sh: %v\n%s", err, out)
	}
	for fresh, committed := range map[string]string{
		filepath.Join(goOut, "plan.pb.go"):   filepath.Join(root, "scheduler", "planpb", "plan.pb.go"),
		filepath.Join(pyOut, "plan_pb2.py"):  filepath.Join(root, "python", "slipstream", "_proto", "plan_pb2.py"),
		filepath.Join(pyOut, "plan_pb2.pyi"): filepath.Join(root, "python", "slipstream", "_proto", "plan_pb2.pyi"),
	} {
		want, err := os.ReadFile(fresh)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(committed)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(want, got) {
			t.Errorf("%s is stale: plan.proto changed; run scripts/genproto.sh and commit the result", committed)
		}
	}
}
