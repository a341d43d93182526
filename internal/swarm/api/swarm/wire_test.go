package swarm_test

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"reflect"
	"testing"
	"time"

	mcontainer "github.com/moby/moby/api/types/container"
	mnetwork "github.com/moby/moby/api/types/network"
	mswarm "github.com/moby/moby/api/types/swarm"
	mvolume "github.com/moby/moby/api/types/volume"

	"git.coopcloud.tech/toolshed/ccci/internal/swarm/api/container"
	"git.coopcloud.tech/toolshed/ccci/internal/swarm/api/network"
	"git.coopcloud.tech/toolshed/ccci/internal/swarm/api/swarm"
	"git.coopcloud.tech/toolshed/ccci/internal/swarm/api/volume"
)

// TestWireSentAsMoby: each request body, empty and with every field set,
// encodes byte for byte as the moby type (v1.56) it stands for encodes the
// same value: the same names, the same omitempty, and every field moby
// always encodes. Only the test links moby (TestDepsLean keeps it out of
// ccci).
func TestWireSentAsMoby(t *testing.T) {
	for _, tc := range []struct{ ours, moby any }{
		{&swarm.ServiceSpec{}, &mswarm.ServiceSpec{}},
		{&swarm.SecretSpec{}, &mswarm.SecretSpec{}},
		{&swarm.ConfigSpec{}, &mswarm.ConfigSpec{}},
		{&network.CreateRequest{}, &mnetwork.CreateRequest{}},
	} {
		for _, full := range []bool{false, true} {
			want := encode(t, tc.ours, full)
			moby := reflect.New(reflect.TypeOf(tc.moby).Elem()).Interface()
			if err := json.Unmarshal(want, moby); err != nil {
				t.Fatalf("%T: moby cannot read ours: %v", tc.ours, err)
			}
			if got, _ := json.Marshal(moby); !bytes.Equal(got, want) {
				t.Errorf("%T (every field set: %v):\nours %s\nmoby %s", tc.ours, full, want, got)
			}
		}
	}
}

// TestWireReadAsMoby: each answer type, every field set, survives a trip
// through the moby type it stands for: each of its fields has the name
// (and type) under which the engine's answer carries it.
func TestWireReadAsMoby(t *testing.T) {
	for _, tc := range []struct{ ours, moby any }{
		{&swarm.Service{}, &mswarm.Service{}},
		{&swarm.Task{}, &mswarm.Task{}},
		{&swarm.Secret{}, &mswarm.Secret{}},
		{&swarm.Config{}, &mswarm.Config{}},
		{&network.Summary{}, &mnetwork.Summary{}},
		{&container.Summary{}, &mcontainer.Summary{}},
		{&container.InspectResponse{}, &mcontainer.InspectResponse{}},
		{&volume.ListResponse{}, &mvolume.ListResponse{}},
	} {
		b := encode(t, tc.ours, true)
		moby := reflect.New(reflect.TypeOf(tc.moby).Elem()).Interface()
		if err := json.Unmarshal(b, moby); err != nil {
			t.Fatalf("%T: moby cannot read it: %v", tc.ours, err)
		}
		mb, _ := json.Marshal(moby)
		back := reflect.New(reflect.TypeOf(tc.ours).Elem()).Interface()
		if err := json.Unmarshal(mb, back); err != nil {
			t.Fatalf("%T: cannot read moby's %s: %v", tc.ours, mb, err)
		}
		if got, _ := json.Marshal(back); !bytes.Equal(got, b) {
			t.Errorf("%T through moby:\nsent %s\ngot  %s", tc.ours, b, got)
		}
	}
}

// encode is json.Marshal of a new value of ours's type, every field set
// when full.
func encode(t *testing.T, ours any, full bool) []byte {
	t.Helper()
	v := reflect.New(reflect.TypeOf(ours).Elem())
	if full {
		fill(v.Elem())
	}
	b, err := json.Marshal(v.Interface())
	if err != nil {
		t.Fatalf("%T: %v", ours, err)
	}
	return b
}

// fill sets every settable field of v to a non-zero value.
func fill(v reflect.Value) {
	switch v.Interface().(type) {
	case time.Time:
		v.Set(reflect.ValueOf(time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)))
		return
	case netip.Addr:
		v.Set(reflect.ValueOf(netip.MustParseAddr("10.0.0.1")))
		return
	case netip.Prefix:
		v.Set(reflect.ValueOf(netip.MustParsePrefix("10.0.0.0/24")))
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k)
		fill(e)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(7)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(7)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(0.5)
	}
}
