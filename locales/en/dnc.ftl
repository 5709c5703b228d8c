dnc-usage = Do-not-call list: /dnc shows it; /dnc add +7 916 123-45-67 [reason] adds a number; /dnc remove +7 916 123-45-67 takes it off. Send a CSV or Excel file captioned /dnc to add every number in it.
dnc-empty = The do-not-call list is empty. Numbers get there when the callee asks not to be called again, or with /dnc add +7…
dnc-header = The do-not-call list holds { $total ->
    [one] { $total } number
   *[other] { $total } numbers
}:
dnc-line = { $phone } — { $reason }, { $date }
dnc-more = …and { $more } more
dnc-added = { $phone } is on the do-not-call list: the agent will not call it.
dnc-already = { $phone } is already on the do-not-call list.
dnc-removed = { $phone } is off the do-not-call list.
dnc-not-listed = { $phone } was not on the do-not-call list.
dnc-reason-manual = added by hand by user { $user }
dnc-reason-file = from the file “{ $name }”
dnc-file-done = Numbers read: { $read }. Added to the do-not-call list: { $added }; already on it: { $already }.
contacts-too-large = The file is larger than { $max } MB. Split the list or send a CSV.
contacts-empty = The file has no rows with data.
contacts-no-phone-column = No column of phone numbers found. Name it “Phone” (or телефон, number). The file's columns: { $columns }
contacts-too-many = One list may hold at most { $max } contacts.
contacts-unreadable = The file could not be read. Send a CSV (UTF-8 or Windows-1251) or an XLSX.
contacts-invalid = Numbers not recognised: { $count } (lines { $lines }).
