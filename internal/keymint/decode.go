package keymint

import (
	"encoding/json"
	"errors"
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

// The answer of get-key is read strictly: the provider decides from it
// whether a host holds a seat, so a field it cannot read is an error naming
// the field, never a default. A missing devices list is not "no devices"; a
// device without a host ID is not a device; a seat limit that is not a
// whole number is not "unlimited". Fields the client does not know are
// ignored, and both casings are read (see field; where both are present,
// each must be readable and the first non-null one wins).

// licensePath and customerPath name the objects in errors.
const (
	licensePath  = "data.license"
	customerPath = "data.customer"
)

// decodeLicense reads the answer of get-key:
// {"code":0,"data":{"license":{…},"customer":{…}|null}}.
func decodeLicense(obj object) (*License, error) {
	lic, err := readLicense(obj)
	if err != nil {
		return nil, fmt.Errorf("get-key: %w", err)
	}
	return lic, nil
}

func readLicense(obj object) (*License, error) {
	lic, data, err := licenseObjects(obj)
	if err != nil {
		return nil, err
	}
	out := &License{Activated: true}
	for _, f := range []struct {
		dst   *string
		names []string
	}{
		{&out.ID, []string{"id"}},
		{&out.ProductID, []string{"product_id", "productId"}},
		{&out.ExpirationDate, []string{"expiration_date", "expirationDate"}},
	} {
		if *f.dst, err = optString(lic, licensePath, f.names...); err != nil {
			return nil, err
		}
	}
	if out.MaxActivations, err = count(lic, licensePath, "max_activations", "maxActivations", "usage_limit", "usageLimit"); err != nil {
		return nil, err
	}
	if b, ok, err := optBool(lic, licensePath, "activated"); err != nil {
		return nil, err
	} else if ok {
		out.Activated = b
	}
	raw, ok := lic["devices"]
	if !ok {
		return nil, fmt.Errorf("the answer's %s has no devices field, so it does not say which hosts hold seats", licensePath)
	}
	if out.Devices, err = decodeDevices(raw); err != nil {
		return nil, err
	}
	out.byHost = make(map[string]int, len(out.Devices))
	for i, d := range out.Devices {
		out.byHost[d.HostID] = i
	}
	n, err := count(lic, licensePath, "activations")
	switch {
	case err != nil:
		return nil, err
	case n != nil:
		out.Activations = *n
	default:
		out.Activations = int64(len(out.Devices))
	}
	if out.Customer, err = decodeCustomer(data, lic); err != nil {
		return nil, err
	}
	return out, nil
}

// licenseObjects returns the license object of a get-key answer, and the
// data object around it.
func licenseObjects(obj object) (lic, data object, err error) {
	data, err = optObject(obj, "", "data")
	if err == nil && data == nil {
		err = errors.New("the answer has no data object")
	}
	if err != nil {
		return nil, nil, err
	}
	lic, err = optObject(data, "data", "license")
	if err == nil && lic == nil {
		err = fmt.Errorf("the answer has no %s object", licensePath)
	}
	return lic, data, err
}

// decodeCustomer reads the customer, which sits beside the license; some
// answers nest it inside. It is nil when there is none.
func decodeCustomer(data, lic object) (*Customer, error) {
	path := customerPath
	cust, err := optObject(data, "data", "customer")
	if err == nil && cust == nil {
		path = licensePath + ".customer"
		cust, err = optObject(lic, licensePath, "customer")
	}
	if err != nil || cust == nil {
		return nil, err
	}
	c := &Customer{}
	for _, f := range []struct {
		dst  *string
		name string
	}{{&c.ID, "id"}, {&c.Name, "name"}, {&c.Email, "email"}} {
		if *f.dst, err = optString(cust, path, f.name); err != nil {
			return nil, err
		}
	}
	if c.Active, _, err = optBool(cust, path, "active"); err != nil {
		return nil, err
	}
	return c, nil
}

// fieldError reports a field of the get-key answer that is not what it
// must be.
func fieldError(path, name, want string, raw json.RawMessage) error {
	if path != "" {
		name = path + "." + name
	}
	return fmt.Errorf("the answer's %s must be %s, not %s", name, want, describe(raw))
}

// describe says what a JSON value is, for errors. It shows numbers and
// literals, but never the content of a string, which might be a secret.
func describe(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "empty"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "a list"
	}
	return truncate(string(raw), 40)
}

// optString reads an optional string field under any of names: "" when
// absent or null. Every name present must hold a string or null.
func optString(obj object, path string, names ...string) (string, error) {
	out, found := "", false
	for _, n := range names {
		raw, ok := obj[n]
		if !ok || string(raw) == "null" {
			continue
		}
		var s string
		if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
			return "", fieldError(path, n, "a string or null", raw)
		}
		if !found {
			out, found = s, true
		}
	}
	return out, nil
}

// optBool reads an optional boolean field: ok is false when it is absent.
// When present, it must be a JSON boolean (not null, not a string).
func optBool(obj object, path, name string) (b, ok bool, err error) {
	raw, present := obj[name]
	if !present {
		return false, false, nil
	}
	switch string(raw) {
	case "true":
		return true, true, nil
	case "false":
		return false, true, nil
	}
	return false, false, fieldError(path, name, "true or false", raw)
}

// count reads a count under any of names: nil when absent or null (for a
// seat limit: unlimited), else a non-negative whole number that fits in an
// int64, as a JSON number or a string of decimal digits (KeyMint takes
// numeric strings for the seat limit elsewhere). 1.5, 1e3, -1 and true are
// errors. Every name present must hold a count or null.
func count(obj object, path string, names ...string) (*int64, error) {
	var out *int64
	for _, n := range names {
		raw, ok := obj[n]
		if !ok || string(raw) == "null" {
			continue
		}
		digits := string(raw)
		if raw[0] == '"' {
			if json.Unmarshal(raw, &digits) != nil {
				digits = ""
			}
		}
		v, err := strconv.ParseInt(digits, 10, 64)
		if err != nil || !isDigits(digits) {
			return nil, fieldError(path, n, "null or a whole number from 0 to 9223372036854775807", raw)
		}
		if out == nil {
			out = &v
		}
	}
	return out, nil
}

// isDigits reports a non-empty string of ASCII decimal digits.
func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// optObject reads an optional object field: nil when absent or null.
func optObject(obj object, path, name string) (object, error) {
	raw, ok := obj[name]
	if !ok || string(raw) == "null" {
		return nil, nil
	}
	var o object
	if raw[0] != '{' || json.Unmarshal(raw, &o) != nil {
		return nil, fieldError(path, name, "an object or null", raw)
	}
	return o, nil
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

// devicesPath names the devices list in errors.
const devicesPath = licensePath + ".devices"

// deviceFields are the string fields of a device, in both casings; the
// first is the host ID.
var deviceFields = [][]string{
	{"host_id", "hostId"},
	{"device_tag", "deviceTag"},
	{"ip_address", "ipAddress"},
	{"activation_time", "activationTime"},
}

// decodeDevices reads the devices list: a list of objects, each with a
// non-empty string host ID, whose other fields are strings or null. The
// fast path decodes into structs; on any problem, the slow path finds the
// device and the field to name.
func decodeDevices(raw json.RawMessage) ([]Device, error) {
	if len(raw) == 0 || raw[0] != '[' {
		return nil, fieldError("", devicesPath, "a list of devices", raw)
	}
	var wire []wireDevice
	if err := json.Unmarshal(raw, &wire); err != nil {
		return nil, devicesProblem(raw, err)
	}
	devs := make([]Device, len(wire))
	for i, w := range wire {
		devs[i] = Device{
			HostID:         either(w.HostID, w.HostIDCamel),
			DeviceTag:      either(w.DeviceTag, w.DeviceTagCamel),
			IPAddress:      either(w.IPAddress, w.IPAddressCamel),
			ActivationTime: either(w.ActivationTime, w.ActivationTimeCamel),
		}
		if devs[i].HostID == "" {
			return nil, devicesProblem(raw, nil)
		}
	}
	return devs, nil
}

// devicesProblem says what is wrong with a devices list that the fast path
// could not read: which device, and which of its fields.
func devicesProblem(raw json.RawMessage, cause error) error {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return fmt.Errorf("the answer's %s is not a JSON list: %w", devicesPath, err)
	}
	for i, item := range items {
		path := fmt.Sprintf("%s[%d]", devicesPath, i)
		var obj object
		if item[0] != '{' || json.Unmarshal(item, &obj) != nil {
			return fmt.Errorf("the answer's %s must be a device object, not %s", path, describe(item))
		}
		var host string
		for j, names := range deviceFields {
			s, err := optString(obj, path, names...)
			if err != nil {
				return err
			}
			if j == 0 {
				host = s
			}
		}
		if host == "" {
			return fmt.Errorf("the answer's %s has no host ID: host_id or hostId must be a non-empty string", path)
		}
	}
	if cause == nil {
		cause = errors.New("unreadable")
	}
	return fmt.Errorf("the answer's %s could not be read: %w", devicesPath, cause)
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
