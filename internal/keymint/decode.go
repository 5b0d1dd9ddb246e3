package keymint

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// The API answers in snake_case (generation 1) or camelCase (generation 2),
// and one variant calls the seat limit usage_limit. The helpers below read a
// field under any of its names, the first present and non-null one winning.

type object = map[string]json.RawMessage

// field returns the first of names present in obj with a non-null value.
func field(obj object, names ...string) (json.RawMessage, bool) {
	for _, n := range names {
		if v, ok := obj[n]; ok && string(v) != "null" {
			return v, true
		}
	}
	return nil, false
}

// str reads a string field; numbers are turned into their decimal text.
func str(obj object, names ...string) string {
	v, ok := field(obj, names...)
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(v, &n) == nil {
		return n.String()
	}
	return ""
}

// integer reads an integer field, accepting a JSON number or a numeric string.
func integer(obj object, names ...string) (int64, bool) {
	v, ok := field(obj, names...)
	if !ok {
		return 0, false
	}
	var f float64
	if json.Unmarshal(v, &f) == nil && f == math.Trunc(f) {
		return int64(f), true
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, true
		}
	}
	return 0, false
}

// boolean reads a boolean field.
func boolean(obj object, names ...string) (bool, bool) {
	v, ok := field(obj, names...)
	if !ok {
		return false, false
	}
	var b bool
	if json.Unmarshal(v, &b) != nil {
		return false, false
	}
	return b, true
}

// sub reads a nested object.
func sub(obj object, names ...string) (object, bool) {
	v, ok := field(obj, names...)
	if !ok {
		return nil, false
	}
	var o object
	if json.Unmarshal(v, &o) != nil {
		return nil, false
	}
	return o, true
}

// decodeLicense reads the answer of get-key:
// {"code":0,"data":{"license":{…},"customer":{…}|null}}.
func decodeLicense(obj object) (*License, error) {
	data, ok := sub(obj, "data")
	if !ok {
		return nil, fmt.Errorf("get-key: the answer has no data object")
	}
	lic, ok := sub(data, "license")
	if !ok {
		return nil, fmt.Errorf("get-key: the answer has no data.license object")
	}
	out := &License{
		ID:             str(lic, "id"),
		ProductID:      str(lic, "product_id", "productId"),
		ExpirationDate: str(lic, "expiration_date", "expirationDate"),
		Activated:      true,
	}
	if n, ok := integer(lic, "max_activations", "maxActivations", "usage_limit", "usageLimit"); ok {
		out.MaxActivations = &n
	}
	if b, ok := boolean(lic, "activated"); ok {
		out.Activated = b
	}
	if raw, ok := field(lic, "devices"); ok {
		devs, err := decodeDevices(raw)
		if err != nil {
			return nil, fmt.Errorf("get-key: data.license.devices is not a list of devices: %w", err)
		}
		out.Devices = devs
		out.byHost = make(map[string]int, len(devs))
		for i, d := range devs {
			out.byHost[d.HostID] = i
		}
	}
	if n, ok := integer(lic, "activations"); ok {
		out.Activations = n
	} else {
		out.Activations = int64(len(out.Devices))
	}
	// The customer sits beside the license; some answers nest it inside.
	cust, ok := sub(data, "customer")
	if !ok {
		cust, ok = sub(lic, "customer")
	}
	if ok {
		c := &Customer{
			ID:    str(cust, "id"),
			Name:  str(cust, "name"),
			Email: str(cust, "email"),
		}
		c.Active, _ = boolean(cust, "active")
		out.Customer = c
	}
	return out, nil
}

// wireDevice is a device in either casing. Decoding into a struct rather
// than a map keeps reading a license with thousands of devices cheap; an
// apply reads the license after each activation.
type wireDevice struct {
	HostID              *string `json:"host_id"`
	HostIDCamel         *string `json:"hostId"`
	DeviceTag           *string `json:"device_tag"`
	DeviceTagCamel      *string `json:"deviceTag"`
	IPAddress           *string `json:"ip_address"`
	IPAddressCamel      *string `json:"ipAddress"`
	ActivationTime      *string `json:"activation_time"`
	ActivationTimeCamel *string `json:"activationTime"`
}

// decodeDevices reads the devices list. Should a field not be a string
// (a number, say), it falls back to the slower, lenient reading.
func decodeDevices(raw json.RawMessage) ([]Device, error) {
	var wire []wireDevice
	if err := json.Unmarshal(raw, &wire); err == nil {
		devs := make([]Device, len(wire))
		for i, w := range wire {
			devs[i] = Device{
				HostID:         either(w.HostID, w.HostIDCamel),
				DeviceTag:      either(w.DeviceTag, w.DeviceTagCamel),
				IPAddress:      either(w.IPAddress, w.IPAddressCamel),
				ActivationTime: either(w.ActivationTime, w.ActivationTimeCamel),
			}
		}
		return devs, nil
	}
	var objs []object
	if err := json.Unmarshal(raw, &objs); err != nil {
		return nil, err
	}
	devs := make([]Device, len(objs))
	for i, d := range objs {
		devs[i] = Device{
			HostID:         str(d, "host_id", "hostId"),
			DeviceTag:      str(d, "device_tag", "deviceTag"),
			IPAddress:      str(d, "ip_address", "ipAddress"),
			ActivationTime: str(d, "activation_time", "activationTime"),
		}
	}
	return devs, nil
}

// either returns the first non-nil of a and b, or "".
func either(a, b *string) string {
	switch {
	case a != nil:
		return *a
	case b != nil:
		return *b
	}
	return ""
}
