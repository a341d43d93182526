package compose

import (
	"reflect"
	"testing"
)

// TestLoadConfigIgnoredSilently: what docker stack deploy drops without a
// word — depends_on, a service's tmpfs list, the host IP of a short-syntax
// port (127.0.0.1:8080:80 is published on every address), a network's
// fixed ipv4/ipv6 address — is named in the service's one warning, after
// interpolation, as the keys docker warns about are.
func TestLoadConfigIgnoredSilently(t *testing.T) {
	dir := writeRecipe(t, map[string]string{
		"compose.yml": `services:
  app:
    image: x
    depends_on: [db]
    tmpfs: [/run]
    ports: ["${IP}:8080:80", "9090:90", 7070]
    networks:
      back: {ipv4_address: 10.0.0.5, ipv6_address: "fd00::5", aliases: [a]}
      front:
    container_name: c
  db:
    image: y
    ports: [{target: 5432, published: 5432, mode: host}]
networks:
  back:
  front:
`,
	})
	var warns []string
	if _, err := LoadConfig(dir, map[string]string{"IP": "127.0.0.1"}, func(w string) { warns = append(warns, w) }); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"service app: ignoring container_name, depends_on, networks.back.ipv4_address, networks.back.ipv6_address, " +
			"the host IP of port 127.0.0.1:8080:80, tmpfs: not used by docker stack deploy",
	}
	if !reflect.DeepEqual(warns, want) {
		t.Errorf("warnings:\n%q\nwant\n%q", warns, want)
	}
}
