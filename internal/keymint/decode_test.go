package keymint

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestDecodeDevicesLenientFallback(t *testing.T) {
	devs, err := decodeDevices(json.RawMessage(`[{"host_id":12345,"ip_address":"10.0.0.1"},{"hostId":"b","deviceTag":"t"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if devs[0].HostID != "12345" || devs[0].IPAddress != "10.0.0.1" || devs[1].HostID != "b" || devs[1].DeviceTag != "t" {
		t.Errorf("devices = %+v", devs)
	}
	if _, err := decodeDevices(json.RawMessage(`"nope"`)); err == nil {
		t.Error("a string was accepted as a device list")
	}
}

// licenseJSON is a get-key answer with n devices.
func licenseJSON(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"code":0,"data":{"license":{"id":"lic_1","max_activations":null,"activations":` + fmt.Sprint(n) + `,"devices":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"host_id":"host-%05d","device_tag":null,"ip_address":"10.0.%d.%d","activation_time":"2026-11-26T03:24:51.538Z"}`, i, i/256, i%256)
	}
	b.WriteString(`],"activated":true},"customer":{"id":"c","name":"n","email":"e","active":true}}}`)
	return []byte(b.String())
}

// BenchmarkDecodeLicense1000 decodes a get-key answer of 1,000 devices, as
// an apply of a 1,000-machine fleet does after each activation.
func BenchmarkDecodeLicense1000(b *testing.B) {
	raw := licenseJSON(1000)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		var obj object
		if err := json.Unmarshal(raw, &obj); err != nil {
			b.Fatal(err)
		}
		lic, err := decodeLicense(obj)
		if err != nil || len(lic.Devices) != 1000 {
			b.Fatal(err)
		}
	}
}
