package app

import (
	"bytes"
	"path/filepath"
	"testing"

	"git.coopcloud.tech/toolshed/ccci/internal/compose"
)

// What --render prints is what a deploy deploys: Render before the app's
// env file exists (it reads the .env.sample as CreateEnvFile would write
// it) prints exactly the config Prepare hands the driver once
// CreateEnvFile has written it, abra.sh and the overlay included.
func TestRenderIsWhatDeploys(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"r/.env.sample": "TYPE=r\nDOMAIN=r.example.com\nCOMPOSE_FILE=compose.yml:compose.db.yml\nSECRET_DB_PASSWORD_VERSION=v1 # length=8\n",
		"r/abra.sh":     "export CONF_VERSION=v3\n",
		"r/compose.yml": "services:\n  app:\n    image: a\n    environment: [\"D=${DOMAIN}\"]\n    secrets: [db_password]\n    configs: [conf]\n" +
			"secrets:\n  db_password: {external: true, name: \"${STACK_NAME}_db_password_${SECRET_DB_PASSWORD_VERSION}\"}\n" +
			"configs:\n  conf: {name: \"${STACK_NAME}_conf_${CONF_VERSION}\", file: conf.tmpl, template_driver: golang}\n",
		"r/compose.db.yml": "services:\n  db:\n    image: d\n",
		"r/conf.tmpl":      "{{ env \"D\" }}\n",
	})
	inst := &Instance{Domain: "d.example.org", Recipe: Recipe{"r", filepath.Join(dir, "r")},
		EnvFile: filepath.Join(dir, "servers", "default", "d.example.org.env")}
	var rendered bytes.Buffer
	if err := Render(&rendered, inst, nil, nil); err != nil {
		t.Fatal(err)
	}
	if created, err := CreateEnvFile(inst.Recipe, inst.EnvFile, inst.Domain); err != nil || !created {
		t.Fatalf("CreateEnvFile = %v, %v", created, err)
	}
	if err := Prepare(inst, "run-1", nil, nil); err != nil {
		t.Fatal(err)
	}
	var deployed bytes.Buffer
	if err := compose.Render(&deployed, inst.App.Config); err != nil {
		t.Fatal(err)
	}
	if rendered.String() != deployed.String() {
		t.Errorf("--render printed\n%s\nthe deploy deploys\n%s", &rendered, &deployed)
	}
	for _, want := range []string{"d_example_org_conf_v3", "D: d.example.org", "  db:\n"} {
		if !bytes.Contains(rendered.Bytes(), []byte(want)) {
			t.Errorf("render lacks %q:\n%s", want, &rendered)
		}
	}
}

// The env file's $VARs expand from the environment the applet was given,
// not from the process's: under ccci-sh, where ccci-deploy runs in-process,
// a variable the script exported is seen exactly as when ccci-deploy is
// exec'd with it, and the shell's own process environment is not.
func TestResolveEnvFromCaller(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"r/.env.sample": "TYPE=r\nDOMAIN=r.example.com\nGREETING=\"hello $CALLER_VAR\"\n",
		"r/compose.yml": "services:\n  app:\n    image: a\n    environment: [\"G=${GREETING}\"]\n",
	})
	t.Setenv("CALLER_VAR", "from-the-process")
	inst := &Instance{Domain: "d.example.org", Recipe: Recipe{"r", filepath.Join(dir, "r")},
		EnvFile: filepath.Join(dir, "servers", "default", "d.example.org.env")}
	script := func(k string) string {
		if k == "CALLER_VAR" {
			return "from-the-script"
		}
		return ""
	}
	var out bytes.Buffer
	if err := Render(&out, inst, script, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out.Bytes(), []byte("G: hello from-the-script")) {
		t.Errorf("render does not expand $CALLER_VAR from the applet's env:\n%s", &out)
	}
}
