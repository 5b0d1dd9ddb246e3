package localserver

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"

	"github.com/keymint-dev/terraform-provider-keymint/internal/keymint"
)

// Generation 2 of the API: POST /key/activate, POST /key/deactivate and
// GET /key, answering in camelCase. Error answers are the same as in
// generation 1.

// activateV2Fields is the field spec of POST /key/activate: unlike
// generation 1, hostId is optional.
var activateV2Fields = fieldSpec{hostID: optional, deviceTag: optional}

// The answers of generation 2.

type activateV2Answer struct {
	Code          int                `json:"code"`
	Message       string             `json:"message"`
	LicenseeName  string             `json:"licenseeName"`
	LicenseeEmail string             `json:"licenseeEmail"`
	Metadata      activationMetadata `json:"metadata"`
}

// activationMetadata echoes the host of an activation.
type activationMetadata struct {
	HostID string `json:"hostId"`
}

type deactivateV2Answer struct {
	Message        string `json:"message"`
	Code           int    `json:"code"`
	DevicesRemoved int    `json:"devicesRemoved"`
}

// licenseV2 is the license object of a generation-2 get-key answer.
type licenseV2 struct {
	licenseFieldsV2
	Devices []deviceV2 `json:"devices"`
}

// licenseFieldsV2 is licenseFields in camelCase.
type licenseFieldsV2 struct {
	ID             string  `json:"id"`
	Key            string  `json:"key"`
	ProductID      string  `json:"productId"`
	MaxActivations *int    `json:"maxActivations"`
	Activations    int     `json:"activations"`
	Activated      bool    `json:"activated"`
	ExpirationDate *string `json:"expirationDate"`
}

// deviceV2 is deviceFields in camelCase.
type deviceV2 struct {
	HostID         string  `json:"hostId"`
	DeviceTag      *string `json:"deviceTag"`
	IPAddress      string  `json:"ipAddress"`
	ActivationTime string  `json:"activationTime"`
}

// licenseV2Of converts a license and its devices to generation 2.
func licenseV2Of(l licenseFields, devices []deviceFields) licenseV2 {
	return licenseV2{licenseFieldsV2(l), convertAll(devices, func(d deviceFields) deviceV2 { return deviceV2(d) })}
}

// activateKeyV2 answers POST /key/activate. Without a hostId, it activates
// a host ID of its own invention, which takes a new seat every time, as
// the real service does.
func (s *Server) activateKeyV2(r *http.Request) (any, error) {
	p, err := decodeKeyParams(r, activateV2Fields)
	if err != nil {
		return nil, err
	}
	if p.HostID == "" {
		p.HostID = inventHostID()
	}
	res, err := s.activate(p, clientIP(r))
	if err != nil {
		return nil, err
	}
	name, email := res.licensee()
	return activateV2Answer{
		Code: 0, Message: messageLicenseValid, LicenseeName: name, LicenseeEmail: email,
		Metadata: activationMetadata{HostID: res.Device.HostID},
	}, nil
}

// deactivateKeyV2 answers POST /key/deactivate.
func (s *Server) deactivateKeyV2(r *http.Request) (any, error) {
	p, err := decodeKeyParams(r, deactivateFields)
	if err != nil {
		return nil, err
	}
	res, err := s.deactivate(p)
	if err != nil {
		return nil, err
	}
	return deactivateV2Answer{Message: res.message(), Code: 0, DevicesRemoved: res.Removed}, nil
}

// getKeyV2 answers GET /key?productId=… with the key in the X-License-Key
// header or, from older clients, the licenseKey query parameter; the
// header wins when both are present.
func (s *Server) getKeyV2(r *http.Request) (any, error) {
	query := r.URL.Query()
	q := keyRequest{ProductID: queryValue(query, "productId"), LicenseKey: queryValue(query, "licenseKey")}
	if key := r.Header.Get(keymint.HeaderLicenseKey); key != "" {
		q.LicenseKey = &key
	}
	p, err := q.params(getKeyFields)
	if err != nil {
		return nil, err
	}
	return getKey(s, p, licenseV2Of)
}

// queryValue returns the first value of a query parameter, or nil if the
// parameter is absent.
func queryValue(q url.Values, name string) *string {
	if !q.Has(name) {
		return nil
	}
	return new(q.Get(name))
}

// inventHostID returns a random host ID for an activation without one.
func inventHostID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return "auto-" + hex.EncodeToString(b[:])
}
