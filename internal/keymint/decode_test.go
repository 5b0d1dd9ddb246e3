package keymint

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// getKeyAnswer is a get-key answer whose license object holds fields.
func getKeyAnswer(fields string) string {
	return `{"code":0,"data":{"license":{` + fields + `},"customer":null}}`
}

// A get-key answer the client cannot read is an error naming the field,
// never a default that the provider would draw conclusions from.
func TestGetKeyStrictDecoding(t *testing.T) {
	const devs = `"devices":[{"host_id":"a"}]`
	tests := []struct {
		name, body, want string
	}{
		{"no devices field", getKeyAnswer(`"id":"lic_1","activations":0`),
			"get-key: the answer's data.license has no devices field"},
		{"devices null", getKeyAnswer(`"devices":null`),
			"get-key: the answer's data.license.devices must be a list of devices, not null"},
		{"devices a string", getKeyAnswer(`"devices":"a,b"`),
			"data.license.devices must be a list of devices, not a string"},
		{"devices an object", getKeyAnswer(`"devices":{"host_id":"a"}`),
			"data.license.devices must be a list of devices, not an object"},
		{"device a number", getKeyAnswer(`"devices":[{"host_id":"a"},1]`),
			"data.license.devices[1] must be a device object, not 1"},
		{"device null", getKeyAnswer(`"devices":[null]`),
			"data.license.devices[0] must be a device object, not null"},
		{"device a string", getKeyAnswer(`"devices":["a"]`),
			"data.license.devices[0] must be a device object, not a string"},
		{"device without a host ID", getKeyAnswer(`"devices":[{"host_id":"a"},{"ip_address":"10.0.0.1"}]`),
			"data.license.devices[1] has no host ID: host_id or hostId must be a non-empty string"},
		{"device with an empty host ID", getKeyAnswer(`"devices":[{"hostId":""}]`),
			"data.license.devices[0] has no host ID"},
		{"device with a null host ID", getKeyAnswer(`"devices":[{"host_id":null}]`),
			"data.license.devices[0] has no host ID"},
		{"host ID a number", getKeyAnswer(`"devices":[{"host_id":12345}]`),
			"data.license.devices[0].host_id must be a string or null, not 12345"},
		{"host ID a list", getKeyAnswer(`"devices":[{"host_id":"a"},{"hostId":["b"]}]`),
			"data.license.devices[1].hostId must be a string or null, not a list"},
		{"host ID readable in one casing only", getKeyAnswer(`"devices":[{"host_id":"a","hostId":7}]`),
			"data.license.devices[0].hostId must be a string or null, not 7"},
		{"device tag a number", getKeyAnswer(`"devices":[{"host_id":"a"},{"host_id":"b"},{"host_id":"c","device_tag":5}]`),
			"data.license.devices[2].device_tag must be a string or null, not 5"},
		{"IP address a boolean", getKeyAnswer(`"devices":[{"hostId":"a","ipAddress":false}]`),
			"data.license.devices[0].ipAddress must be a string or null, not false"},
		{"activation time an object", getKeyAnswer(`"devices":[{"hostId":"a","activationTime":{}}]`),
			"data.license.devices[0].activationTime must be a string or null, not an object"},
		{"seat limit a fraction", getKeyAnswer(devs + `,"max_activations":1.5`),
			"data.license.max_activations must be null or a whole number from 0 to 9223372036854775807, not 1.5"},
		{"seat limit huge", getKeyAnswer(devs + `,"maxActivations":1e300`),
			"data.license.maxActivations must be null or a whole number"},
		{"seat limit beyond int64", getKeyAnswer(devs + `,"max_activations":9223372036854775808`),
			"data.license.max_activations must be null or a whole number"},
		{"seat limit negative", getKeyAnswer(devs + `,"usage_limit":-1`),
			"data.license.usage_limit must be null or a whole number from 0 to 9223372036854775807, not -1"},
		{"seat limit true", getKeyAnswer(devs + `,"usageLimit":true`),
			"data.license.usageLimit must be null or a whole number from 0 to 9223372036854775807, not true"},
		{"seat limit 1.0", getKeyAnswer(devs + `,"max_activations":1.0`),
			"data.license.max_activations must be null or a whole number"},
		{"seat limit a word", getKeyAnswer(devs + `,"max_activations":"LK-SECRET-WORD"`),
			"data.license.max_activations must be null or a whole number from 0 to 9223372036854775807, not a string"},
		{"seat limit a negative string", getKeyAnswer(devs + `,"max_activations":"-5"`),
			"data.license.max_activations must be null or a whole number"},
		{"seat limit an empty string", getKeyAnswer(devs + `,"max_activations":""`),
			"data.license.max_activations must be null or a whole number"},
		{"seat limit a string with spaces", getKeyAnswer(devs + `,"max_activations":" 5"`),
			"data.license.max_activations must be null or a whole number"},
		{"seat limit an object", getKeyAnswer(devs + `,"max_activations":{}`),
			"data.license.max_activations must be null or a whole number from 0 to 9223372036854775807, not an object"},
		{"seat limit readable in one name only", getKeyAnswer(devs + `,"max_activations":3,"usage_limit":2.5`),
			"data.license.usage_limit must be null or a whole number"},
		{"activations a fraction", getKeyAnswer(devs + `,"activations":2.5`),
			"data.license.activations must be null or a whole number from 0 to 9223372036854775807, not 2.5"},
		{"activations negative", getKeyAnswer(devs + `,"activations":-1`),
			"data.license.activations must be null or a whole number"},
		{"activated a string", getKeyAnswer(devs + `,"activated":"false"`),
			"data.license.activated must be true or false, not a string"},
		{"activated a number", getKeyAnswer(devs + `,"activated":0`),
			"data.license.activated must be true or false, not 0"},
		{"activated null", getKeyAnswer(devs + `,"activated":null`),
			"data.license.activated must be true or false, not null"},
		{"id a number", getKeyAnswer(devs + `,"id":5`),
			"data.license.id must be a string or null, not 5"},
		{"product ID an object", getKeyAnswer(devs + `,"productId":{}`),
			"data.license.productId must be a string or null, not an object"},
		{"expiry a number", getKeyAnswer(devs + `,"expiration_date":1767225600`),
			"data.license.expiration_date must be a string or null, not 1767225600"},
		{"customer a string", `{"code":0,"data":{"license":{` + devs + `},"customer":"cus_1"}}`,
			"data.customer must be an object or null, not a string"},
		{"customer name a number", `{"code":0,"data":{"license":{` + devs + `},"customer":{"id":"c","name":5}}}`,
			"data.customer.name must be a string or null, not 5"},
		{"customer active a string", `{"code":0,"data":{"license":{` + devs + `},"customer":{"id":"c","active":"true"}}}`,
			"data.customer.active must be true or false, not a string"},
		{"nested customer a list", `{"code":0,"data":{"license":{` + devs + `,"customer":[]}}}`,
			"data.license.customer must be an object or null, not a list"},
		{"data a list", `{"code":0,"data":[]}`, "get-key: the answer's data must be an object or null, not a list"},
		{"no data", `{"code":0}`, "get-key: the answer has no data object"},
		{"license null", `{"code":0,"data":{"license":null}}`, "get-key: the answer has no data.license object"},
		{"license a string", `{"code":0,"data":{"license":"x"}}`, "get-key: the answer's data.license must be an object or null, not a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newTestServer(t, 200, tt.body)
			lic, err := c.GetKey(context.Background(), testProduct, testKey)
			if err == nil {
				t.Fatalf("GetKey accepted %s as %+v", tt.body, lic)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err =\n  %v\nwant it to contain\n  %s", err, tt.want)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("the error shows the content of a string: %v", err)
			}
		})
	}
}

// What strict decoding still accepts: both casings, null for "none",
// counts as decimal strings, and fields it does not know.
func TestGetKeyStrictDecodingAccepts(t *testing.T) {
	tests := []struct {
		name, body  string
		max         *int64
		activations int64
		activated   bool
		hosts       []string
		customer    *Customer
	}{
		{"no devices, unlimited", getKeyAnswer(`"devices":[],"max_activations":null`), nil, 0, true, []string{}, nil},
		{"seat limit absent, activations absent", getKeyAnswer(`"devices":[{"host_id":"a"},{"hostId":"b"}]`), nil, 2, true, []string{"a", "b"}, nil},
		{"seat limit a decimal string", getKeyAnswer(`"devices":[],"maxActivations":"5","activations":"0"`), ptr[int64](5), 0, true, []string{}, nil},
		{"seat limit zero", getKeyAnswer(`"devices":[],"max_activations":0,"activated":false`), ptr[int64](0), 0, false, []string{}, nil},
		{"largest seat limit", getKeyAnswer(`"devices":[],"usage_limit":9223372036854775807`), ptr[int64](9223372036854775807), 0, true, []string{}, nil},
		{"a null name before a set one", getKeyAnswer(`"devices":[],"max_activations":null,"maxActivations":4`), ptr[int64](4), 0, true, []string{}, nil},
		{"null host ID in one casing", getKeyAnswer(`"devices":[{"host_id":null,"hostId":"b","device_tag":null,"ipAddress":null}]`), nil, 1, true, []string{"b"}, nil},
		{"unknown fields", `{"code":0,"extra":[1],"data":{"more":{"x":1},"license":{"devices":[{"host_id":"a","extra":{"y":[2]}}],"metadata":{"k":1},"versionId":7,"key":"K"},"customer":{"id":"c","name":null,"email":"e","active":true,"createdAt":5}}}`,
			nil, 1, true, []string{"a"}, &Customer{ID: "c", Email: "e", Active: true}},
		{"nested customer", `{"code":0,"data":{"license":{"devices":[],"customer":{"id":"c","name":"n"}}}}`, nil, 0, true, []string{}, &Customer{ID: "c", Name: "n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newTestServer(t, 200, tt.body)
			lic, err := c.GetKey(context.Background(), testProduct, testKey)
			if err != nil {
				t.Fatal(err)
			}
			if (lic.MaxActivations == nil) != (tt.max == nil) || (tt.max != nil && *lic.MaxActivations != *tt.max) {
				t.Errorf("MaxActivations = %v, want %v", lic.MaxActivations, tt.max)
			}
			if lic.Activations != tt.activations || lic.Activated != tt.activated {
				t.Errorf("Activations = %d, Activated = %v; want %d, %v", lic.Activations, lic.Activated, tt.activations, tt.activated)
			}
			if got := lic.HostIDs(); strings.Join(got, ",") != strings.Join(tt.hosts, ",") {
				t.Errorf("hosts = %q, want %q", got, tt.hosts)
			}
			if (lic.Customer == nil) != (tt.customer == nil) || (tt.customer != nil && *lic.Customer != *tt.customer) {
				t.Errorf("customer = %+v, want %+v", lic.Customer, tt.customer)
			}
		})
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
