// Read an .ics file with ical.js (the parser Thunderbird and many web calendars use) and print
// what a calendar client would show, as JSON, for tests/test_icaljs.py to compare.
const fs = require("fs");
const ICAL = require("ical.js");

const root = new ICAL.Component(ICAL.parse(fs.readFileSync(process.argv[2], "utf8")));
for (const tz of root.getAllSubcomponents("vtimezone")) {
  ICAL.TimezoneService.register(new ICAL.Timezone(tz));
}
const param = (prop, name) => (prop ? prop.getParameter(name) || null : null);
const events = root.getAllSubcomponents("vevent").map((vevent) => {
  const event = new ICAL.Event(vevent);
  const organizer = vevent.getFirstProperty("organizer");
  const attendee = vevent.getFirstProperty("attendee");
  return {
    uid: event.uid,
    sequence: event.sequence,
    summary: event.summary,
    location: event.location,
    status: vevent.getFirstPropertyValue("status"),
    start: event.startDate.toJSDate().toISOString(),
    end: event.endDate.toJSDate().toISOString(),
    zone: event.startDate.zone.tzid,
    organizer: organizer ? organizer.getFirstValue() : null,
    organizer_cn: param(organizer, "cn"),
    sent_by: param(organizer, "sent-by"),
    rsvp: param(attendee, "rsvp"),
    last_modified: vevent.getFirstPropertyValue("last-modified")?.toString() ?? null,
  };
});
console.log(JSON.stringify({
  method: root.getFirstPropertyValue("method"),
  name: root.getFirstPropertyValue("x-wr-calname"),
  rfc7986_name: root.getFirstPropertyValue("name"),
  events,
}));
