dnc-usage = Список «не звонить»: /dnc — показать; /dnc add +7 916 123-45-67 [причина] — добавить; /dnc remove +7 916 123-45-67 — убрать. Пришлите CSV или Excel с подписью /dnc, чтобы добавить все номера из файла.
dnc-empty = Список «не звонить» пуст. Номера попадают в него, когда собеседник просит больше не звонить, или через /dnc add +7…
dnc-header = В списке «не звонить» { $total ->
    [one] { $total } номер
    [few] { $total } номера
   *[other] { $total } номеров
}:
dnc-line = { $phone } — { $reason }, { $date }
dnc-more = …и ещё { $more }
dnc-added = { $phone } добавлен в список «не звонить»: агент ему звонить не будет.
dnc-already = { $phone } уже в списке «не звонить».
dnc-removed = { $phone } убран из списка «не звонить».
dnc-not-listed = { $phone } не было в списке «не звонить».
dnc-reason-manual = добавил вручную пользователь { $user }
dnc-reason-file = из файла «{ $name }»
dnc-file-done = Прочитано номеров: { $read }. Добавлено в «не звонить»: { $added }, уже были в списке: { $already }.
contacts-too-large = Файл больше { $max } МБ. Разбейте список на части или пришлите CSV.
contacts-empty = В файле нет ни одной строки с данными.
contacts-no-phone-column = Не нашёл столбец с номерами телефонов. Назовите его «Телефон» (или phone, номер). Столбцы в файле: { $columns }
contacts-too-many = В одном списке может быть не больше { $max } контактов.
contacts-unreadable = Не получилось прочитать файл. Пришлите CSV (UTF-8 или Windows-1251) или XLSX.
contacts-invalid = Не распознаны номера: { $count } (строки { $lines }).
